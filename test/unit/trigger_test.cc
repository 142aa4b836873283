#include "jss/core/policy/resolve_trigger.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

namespace jss::core {
namespace {

using ::testing::HasSubstr;
using Map = std::map<std::string, std::string>;

MetadataLookup From(const Map& m) {
  return [&m](std::string_view key) -> std::optional<std::string_view> {
    auto it = m.find(std::string(key));
    if (it == m.end()) return std::nullopt;
    return std::string_view(it->second);
  };
}

class ResolveTriggerTest : public ::testing::Test {
 protected:
  ConnectionSelector selector_{{{"default", {"nats://a:4222"}, false},
                                {"eu", {"nats://eu:4222"}, true}}};
  AccessPolicy policy_ = *AccessPolicy::Parse(
      R"({"rules": [{"namespaces": ["team-a"], "streams": ["ORDERS"]}]})", "policy.json");
};

TEST_F(ResolveTriggerTest, MetadataBecomesAReadKeyOnTheSelectedConnection) {
  const Map md = {{"stream", "ORDERS"}, {"consumer", "w"}, {"account", "eu"},
                  {"lagThreshold", "5"}};
  auto t = ResolveTrigger(From(md), "team-a", selector_, policy_);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->key, (ConsumerKey{"eu", "ORDERS", "w"}));
  EXPECT_EQ(t->metadata.lag_threshold, 5);
}

struct Case {
  const char* name;
  Map metadata;
  const char* ns;
  StatusCode code;
  const char* message_part;
};

class ResolveTriggerRejectsTest : public ResolveTriggerTest,
                                  public ::testing::WithParamInterface<Case> {};

TEST_P(ResolveTriggerRejectsTest, WithTheCodeOfTheStepThatFailed) {
  const Case& c = GetParam();
  auto t = ResolveTrigger(From(c.metadata), c.ns, selector_, policy_);
  ASSERT_FALSE(t.ok()) << c.name;
  EXPECT_EQ(t.status().code(), c.code) << c.name << ": " << t.status().ToString();
  EXPECT_THAT(t.status().message(), HasSubstr(c.message_part)) << c.name;
}

INSTANTIATE_TEST_SUITE_P(
    Table, ResolveTriggerRejectsTest,
    ::testing::Values(
        Case{"bad_metadata", {{"stream", "A.B"}, {"consumer", "w"}}, "team-a",
             StatusCode::kInvalidArgument, "\"stream\""},
        Case{"unknown_account", {{"stream", "ORDERS"}, {"consumer", "w"}, {"account", "us"}},
             "team-a", StatusCode::kInvalidArgument, "account"},
        Case{"policy_denies_namespace", {{"stream", "ORDERS"}, {"consumer", "w"}}, "team-b",
             StatusCode::kPermissionDenied, "team-b"},
        // A namespace with a rule is told what is wrong with its trigger.
        Case{"bad_metadata_in_allowed_namespace", {{"stream", "ORDERS"}}, "team-a",
             StatusCode::kInvalidArgument, "\"consumer\" is required"},
        Case{"other_stream_in_allowed_namespace", {{"stream", "PAYMENTS"}, {"consumer", "w"}},
             "team-a", StatusCode::kPermissionDenied, "\"PAYMENTS\""}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

// Issue 21 item 6: a namespace no rule names gets one answer whatever it
// sends, so it cannot learn connection names, which natsUrl values exist, or
// where the policy file lives.
struct DeniedCase {
  const char* name;
  Map metadata;
};

class DeniedNamespaceTest : public ResolveTriggerTest,
                            public ::testing::WithParamInterface<DeniedCase> {};

TEST_P(DeniedNamespaceTest, GetsOneGenericPermissionDenied) {
  const DeniedCase& c = GetParam();
  auto baseline =
      ResolveTrigger(From({{"stream", "ORDERS"}, {"consumer", "w"}}), "team-b", selector_, policy_);
  ASSERT_EQ(baseline.status().code(), StatusCode::kPermissionDenied);
  auto t = ResolveTrigger(From(c.metadata), "team-b", selector_, policy_);
  ASSERT_FALSE(t.ok()) << c.name;
  EXPECT_EQ(t.status(), baseline.status()) << c.name << ": " << t.status().ToString();
  for (const char* secret : {"eu", "default", "nats://", "policy.json", "ORDERS"}) {
    EXPECT_THAT(t.status().message(), ::testing::Not(HasSubstr(secret))) << c.name;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, DeniedNamespaceTest,
    ::testing::Values(
        DeniedCase{"valid_trigger", {{"stream", "ORDERS"}, {"consumer", "w"}}},
        DeniedCase{"configured_nats_url",
                   {{"stream", "ORDERS"}, {"consumer", "w"}, {"natsUrl", "nats://eu:4222"}}},
        DeniedCase{"unknown_nats_url",
                   {{"stream", "ORDERS"}, {"consumer", "w"}, {"natsUrl", "nats://x:4222"}}},
        DeniedCase{"known_connection", {{"stream", "ORDERS"}, {"consumer", "w"}, {"connection", "eu"}}},
        DeniedCase{"unknown_connection",
                   {{"stream", "ORDERS"}, {"consumer", "w"}, {"connection", "guess"}}},
        DeniedCase{"unknown_account", {{"stream", "ORDERS"}, {"consumer", "w"}, {"account", "us"}}},
        DeniedCase{"conflicting_selectors",
                   {{"stream", "ORDERS"},
                    {"consumer", "w"},
                    {"connection", "default"},
                    {"natsUrl", "nats://eu:4222"}}},
        DeniedCase{"bad_metadata", {{"stream", "A.B"}, {"lagThreshold", "ten"}}},
        DeniedCase{"no_metadata", {}}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(MetadataTest, ReportsEveryBadKeyAtOnce) {
  const Map md = {{"stream", "A.B"}, {"lagThreshold", "ten"}, {"pushInterval", "1ms"}};
  auto parsed = ParseTriggerMetadata(From(md));
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
  for (const char* part : {"\"stream\"", "\"consumer\" is required", "\"lagThreshold\"",
                           "\"pushInterval\""}) {
    EXPECT_THAT(parsed.status().message(), HasSubstr(part));
  }
}

TEST(MetadataTest, IntegersRefuseASignAfterAPlus) {
  const Map md = {{"stream", "S"}, {"consumer", "c"}, {"activationLagThreshold", "+-1"}};
  auto parsed = ParseTriggerMetadata(From(md));
  ASSERT_FALSE(parsed.ok());
  EXPECT_THAT(parsed.status().message(), HasSubstr("found '-'"));
}

}  // namespace
}  // namespace jss::core
