#include "jss/core/trigger/kubernetes_names.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "jss/core/base/strings.h"

namespace jss::core {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct NameCase {
  std::string text;
  bool label;
  bool subdomain;
};

TEST(KubernetesNamesTest, LabelsAndSubdomainsAsTheApiServerChecksThem) {
  const NameCase cases[] = {
      {"shop", true, true},
      {"team-a", true, true},
      {"a", true, true},
      {"0-9", true, true},
      {std::string(63, 'n'), true, true},
      {std::string(64, 'n'), false, true},  // too long for a namespace, fine as a name
      {std::string(253, 'n'), false, true},
      {std::string(254, 'n'), false, false},
      {"orders.v2", false, true},
      {"a.b.c", false, true},
      {"", false, false},
      {"Shop", false, false},
      {"-shop", false, false},
      {"shop-", false, false},
      {"sh_op", false, false},
      {"sh op", false, false},
      {".a", false, false},
      {"a.", false, false},
      {"a..b", false, false},
      {"a.-b", false, false},
      {std::string("ns\0x", 4), false, false},
      {"caf\xc3\xa9", false, false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(IsDns1123Label(c.text), c.label) << Preview(c.text);
    EXPECT_EQ(IsDns1123Subdomain(c.text), c.subdomain) << Preview(c.text);
  }
}

struct RefCase {
  const char* name;
  std::string ns;
  std::string object;
  const char* field;  // named in the message; nullptr: valid
};

class ValidateScaledObjectRefTest : public ::testing::TestWithParam<RefCase> {};

TEST_P(ValidateScaledObjectRefTest, NamesTheFieldAndTheRuleWithoutEchoingALongValue) {
  const RefCase& c = GetParam();
  const Status s = ValidateScaledObjectRef(c.ns, c.object);
  if (c.field == nullptr) {
    EXPECT_TRUE(s.ok()) << s.ToString();
    return;
  }
  ASSERT_EQ(s.code(), StatusCode::kInvalidArgument) << c.name;
  EXPECT_THAT(s.message(), HasSubstr(c.field)) << c.name;
  EXPECT_THAT(s.message(), HasSubstr("DNS-1123")) << c.name;
  EXPECT_LT(s.message().size(), 400u) << c.name << ": the value was echoed whole";
  for (char ch : s.message()) {
    EXPECT_TRUE(ch >= 0x20 && ch < 0x7f) << c.name << ": unescaped byte in " << s.message();
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, ValidateScaledObjectRefTest,
    ::testing::Values(
        RefCase{"valid", "shop", "orders-worker", nullptr},
        RefCase{"valid_dotted_name", "shop", "orders.v2", nullptr},
        RefCase{"longest_valid", std::string(63, 'n'), std::string(253, 'o'), nullptr},
        RefCase{"huge_namespace", std::string(60 * 1024, 'n'), "so",
                "ScaledObjectRef.namespace"},
        RefCase{"namespace_64", std::string(64, 'n'), "so", "ScaledObjectRef.namespace"},
        RefCase{"empty_namespace", "", "so", "ScaledObjectRef.namespace"},
        RefCase{"uppercase_namespace", "Shop", "so", "ScaledObjectRef.namespace"},
        RefCase{"control_bytes_namespace", "shop\n{\"level\":\"error\"}\x1b[2J", "so",
                "ScaledObjectRef.namespace"},
        RefCase{"huge_name", "shop", std::string(60 * 1024, 'o'), "ScaledObjectRef.name"},
        RefCase{"name_254", "shop", std::string(254, 'o'), "ScaledObjectRef.name"},
        RefCase{"empty_name", "shop", "", "ScaledObjectRef.name"},
        RefCase{"invalid_utf8_name", "shop", "so\xff\xfe", "ScaledObjectRef.name"}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(KubernetesNamesTest, AForgedValueIsQuotedEscapedAndCutToAFewDozenBytes) {
  const Status s = ValidateScaledObjectRef(std::string(60 * 1024, 'x'), "so");
  EXPECT_THAT(s.message(), HasSubstr("\"" + std::string(32, 'x') + "...(61440 bytes)\""));
  EXPECT_THAT(s.message(), Not(HasSubstr(std::string(33, 'x'))));
  const Status ctl = ValidateScaledObjectRef("a\"b\\c\n", "so");
  EXPECT_THAT(ctl.message(), HasSubstr(R"("a\"b\\c\x0a")"));
}

}  // namespace
}  // namespace jss::core
