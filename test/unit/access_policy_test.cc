#include "jss/core/policy/access_policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace jss::core {
namespace {

using ::testing::HasSubstr;

struct GlobCase {
  const char* pattern;
  const char* text;
  bool match;
};

TEST(GlobMatchTest, Table) {
  const GlobCase cases[] = {
      {"*", "", true},           {"*", "anything", true},    {"shop", "shop", true},
      {"shop", "shops", false},  {"shop*", "shop", true},    {"shop*", "shop-eu", true},
      {"team-?", "team-a", true}, {"team-?", "team-ab", false}, {"*-prod", "eu-prod", true},
      {"*-prod", "eu-prod-2", false}, {"a*b*c", "aXbYc", true}, {"a*b*c", "aXbY", false},
      {"ORDERS", "orders", false},  // JetStream names are case-sensitive
      {"**", "x", true},         {"", "", true},             {"", "x", false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(GlobMatch(c.pattern, c.text), c.match) << c.pattern << " vs " << c.text;
  }
}

TEST(GlobMatchTest, HostilePatternStaysFast) {
  // Would be exponential with naive backtracking.
  EXPECT_FALSE(GlobMatch("*a*a*a*a*a*a*a*a*a*a*b", std::string(200, 'a')));
}

const char* kPolicy = R"({"rules": [
  {"namespaces": ["shop"], "streams": ["ORDERS", "ORDERS_*"]},
  {"namespaces": ["team-*"], "connections": ["eu"], "streams": ["JOBS"], "consumers": ["w-?"]}
]})";

struct CheckCase {
  const char* name;
  const char* ns;
  ConsumerKey key;
  bool allowed;
};

TEST(AccessPolicyTest, ChecksEveryPartOfTheQuery) {
  auto policy = AccessPolicy::Parse(kPolicy, "/etc/policy.json");
  ASSERT_TRUE(policy.ok()) << policy.status().ToString();
  const CheckCase cases[] = {
      {"exact stream", "shop", {"default", "ORDERS", "any"}, true},
      {"stream pattern", "shop", {"other", "ORDERS_EU", "any"}, true},
      {"other stream", "shop", {"default", "PAYMENTS", "any"}, false},
      {"other namespace", "billing", {"default", "ORDERS", "any"}, false},
      {"namespace pattern", "team-a", {"eu", "JOBS", "w-1"}, true},
      {"wrong connection", "team-a", {"default", "JOBS", "w-1"}, false},
      {"wrong consumer", "team-a", {"eu", "JOBS", "w-10"}, false},
      {"empty namespace", "", {"default", "ORDERS", "any"}, false},
  };
  for (const auto& c : cases) {
    Status s = policy->Check(c.ns, c.key);
    EXPECT_EQ(s.ok(), c.allowed) << c.name;
    if (!c.allowed) {
      EXPECT_EQ(s.code(), StatusCode::kPermissionDenied) << c.name;
      // Tenants read this (KEDA events): docs/security.md promises no file paths.
      EXPECT_THAT(s.message(), ::testing::Not(HasSubstr("policy.json"))) << c.name;
      EXPECT_THAT(s.message(), HasSubstr(c.key.stream)) << c.name;
    }
  }
}

TEST(AccessPolicyTest, EmptyRulesDenyEverythingAndAllowAllAllowsEverything) {
  auto none = AccessPolicy::Parse(R"({"rules": []})", "p");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->Check("shop", {"default", "S", "c"}).ok());
  EXPECT_TRUE(AccessPolicy::AllowAll().Check("anyone", {"x", "S", "c"}).ok());
}

struct BadCase {
  const char* name;
  const char* json;
  const char* mentions;
};

TEST(AccessPolicyTest, BadFilesAreRejectedNamingTheProblem) {
  const BadCase cases[] = {
      {"not json", "{", "not a JSON object"},
      {"array", "[]", "not a JSON object"},
      {"no rules", "{}", "\"rules\" must be a list"},
      {"unknown top key", R"({"rules": [], "defaults": 1})", "unknown key \"defaults\""},
      {"rule not object", R"({"rules": [1]})", "rules[0]: must be an object"},
      {"missing namespaces", R"({"rules": [{"streams": ["S"]}]})", "\"namespaces\" is required"},
      {"typo key", R"({"rules": [{"namespaces": ["a"], "stream": ["S"]}]})",
       "unknown key \"stream\""},
      {"empty list", R"({"rules": [{"namespaces": []}]})", "non-empty list"},
      {"not strings", R"({"rules": [{"namespaces": [1]}]})", "non-empty strings"},
      {"empty string", R"({"rules": [{"namespaces": [""]}]})", "non-empty strings"},
  };
  for (const auto& c : cases) {
    auto p = AccessPolicy::Parse(c.json, "policy.json");
    ASSERT_FALSE(p.ok()) << c.name;
    EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument) << c.name;
    EXPECT_THAT(p.status().message(), HasSubstr(c.mentions)) << c.name;
    EXPECT_THAT(p.status().message(), HasSubstr("policy.json")) << c.name;
  }
}

TEST(PolicyHolderTest, ReplaceSwapsTheWholePolicy) {
  PolicyHolder holder(AccessPolicy::AllowAll());
  auto before = holder.Current();
  holder.Replace(*AccessPolicy::Parse(R"({"rules": []})", "p"));
  EXPECT_TRUE(before->allows_all()) << "a check in progress keeps its version";
  EXPECT_FALSE(holder.Current()->allows_all());
}

}  // namespace
}  // namespace jss::core
