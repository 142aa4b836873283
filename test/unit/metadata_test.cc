#include "jss/core/trigger/metadata.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "jss/core/trigger/metric_name.h"

namespace jss::core {
namespace {

using Map = std::map<std::string, std::string>;

StatusOr<TriggerMetadata> Parse(const Map& m) {
  return ParseTriggerMetadata([&m](std::string_view key) -> std::optional<std::string_view> {
    auto it = m.find(std::string(key));
    if (it == m.end()) return std::nullopt;
    return std::string_view(it->second);
  });
}

Map Base(Map extra = {}) {
  Map m = {{"stream", "ORDERS"}, {"consumer", "workers"}};
  for (auto& [k, v] : extra) m[k] = v;
  return m;
}

// pushInterval belongs to StreamIsActive alone: the polling RPCs neither read nor check it,
// so an `external` trigger with a stray (even bad) pushInterval keeps working.
TEST(MetadataTest, PollingSkipsThePushOnlyKeys) {
  auto lookup = [](const Map& m) {
    return [m](std::string_view key) -> std::optional<std::string_view> {
      auto it = m.find(std::string(key));
      if (it == m.end()) return std::nullopt;
      return std::string_view(it->second);
    };
  };
  for (const char* value : {"10ms", "fast", "", "2h", "250ms"}) {
    const Map md = Base({{"pushInterval", value}});
    auto polled = ParseTriggerMetadata(lookup(md), TriggerUse::kPolling);
    ASSERT_TRUE(polled.ok()) << value << ": " << polled.status().ToString();
    EXPECT_FALSE(polled->push_interval.has_value()) << value;
    EXPECT_EQ(polled->stream, "ORDERS");
  }
  // The same values for StreamIsActive: checked as before.
  auto pushed = ParseTriggerMetadata(lookup(Base({{"pushInterval", "10ms"}})), TriggerUse::kPush);
  EXPECT_EQ(pushed.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(pushed.status().message(), ::testing::HasSubstr("pushInterval"));
  auto ok = ParseTriggerMetadata(lookup(Base({{"pushInterval", "250ms"}})), TriggerUse::kPush);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->push_interval, std::chrono::milliseconds(250));
  // Other bad keys still fail a poll.
  auto bad = ParseTriggerMetadata(lookup(Base({{"pushInterval", "fast"}, {"lagThreshold", "x"}})),
                                  TriggerUse::kPolling);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), ::testing::Not(::testing::HasSubstr("pushInterval")));
}

TEST(MetadataTest, DefaultsMatchTheBuiltInScaler) {
  auto md = Parse(Base());
  ASSERT_TRUE(md.ok()) << md.status().ToString();
  EXPECT_EQ(md->stream, "ORDERS");
  EXPECT_EQ(md->consumer, "workers");
  EXPECT_EQ(md->lag_threshold, 10);
  EXPECT_EQ(md->activation_lag_threshold, 0);
  EXPECT_FALSE(md->account.has_value());
  EXPECT_FALSE(md->connection.has_value());
  EXPECT_FALSE(md->nats_url.has_value());
  EXPECT_FALSE(md->push_interval.has_value());
  EXPECT_TRUE(md->ignored_builtin_keys.empty());
}

TEST(MetadataTest, ReadsEveryKey) {
  auto md = Parse(Base({{"lagThreshold", "25"},
                        {"activationLagThreshold", "3"},
                        {"account", "tenant-a"},
                        {"natsUrl", "nats://nats.nats.svc:4222"},
                        {"pushInterval", "250ms"},
                        {"natsServerMonitoringEndpoint", "nats.nats.svc:8222"},
                        {"useHttps", "false"},
                        {"accountID", "tenant-a"},
                        {"connection", "orders"},
                        {"scalerAddress", "jetstream-scaler.keda.svc:6000"},
                        {"enableTLS", "false"}}));
  ASSERT_TRUE(md.ok()) << md.status().ToString();
  EXPECT_EQ(md->lag_threshold, 25);
  EXPECT_EQ(md->activation_lag_threshold, 3);
  EXPECT_EQ(md->account, "tenant-a");
  EXPECT_EQ(md->connection, "orders");
  EXPECT_EQ(md->nats_url, "nats://nats.nats.svc:4222");
  EXPECT_EQ(md->push_interval, std::chrono::milliseconds(250));
  EXPECT_THAT(md->ignored_builtin_keys,
              ::testing::ElementsAre("natsServerMonitoringEndpoint", "useHttps"));
}

struct BadCase {
  const char* name;
  Map metadata;
  const char* key_in_message;
  const char* expectation_in_message;
};

class MetadataRejectsTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(MetadataRejectsTest, WithInvalidArgumentNamingTheKey) {
  const auto& c = GetParam();
  auto md = Parse(c.metadata);
  ASSERT_FALSE(md.ok()) << c.name;
  EXPECT_EQ(md.status().code(), StatusCode::kInvalidArgument) << c.name;
  EXPECT_THAT(md.status().message(), ::testing::HasSubstr(c.key_in_message)) << c.name;
  EXPECT_THAT(md.status().message(), ::testing::HasSubstr(c.expectation_in_message)) << c.name;
}

INSTANTIATE_TEST_SUITE_P(
    Table, MetadataRejectsTest,
    ::testing::Values(
        BadCase{"missing_stream", {{"consumer", "c"}}, "\"stream\"", "required"},
        BadCase{"missing_consumer", {{"stream", "s"}}, "\"consumer\"", "required"},
        BadCase{"empty_stream", {{"stream", ""}, {"consumer", "c"}}, "\"stream\"", "empty"},
        BadCase{"empty_consumer", {{"stream", "s"}, {"consumer", ""}}, "\"consumer\"", "empty"},
        BadCase{"stream_with_dot", Base({{"stream", "A.B"}}), "\"stream\"", "'.'"},
        BadCase{"consumer_wildcard", Base({{"consumer", "*"}}), "\"consumer\"", "'*'"},
        BadCase{"consumer_gt", Base({{"consumer", "x>"}}), "\"consumer\"", "'>'"},
        BadCase{"stream_space", Base({{"stream", "a b"}}), "\"stream\"", "whitespace"},
        BadCase{"lag_non_numeric", Base({{"lagThreshold", "ten"}}), "\"lagThreshold\"",
                "whole number"},
        BadCase{"lag_empty", Base({{"lagThreshold", ""}}), "\"lagThreshold\"", "empty"},
        BadCase{"lag_zero", Base({{"lagThreshold", "0"}}), "\"lagThreshold\"", ">= 1"},
        BadCase{"lag_negative", Base({{"lagThreshold", "-5"}}), "\"lagThreshold\"", ">= 1"},
        BadCase{"lag_trailing_junk", Base({{"lagThreshold", "10abc"}}), "\"lagThreshold\"",
                "whole number"},
        BadCase{"lag_fraction", Base({{"lagThreshold", "1.5"}}), "\"lagThreshold\"",
                "whole number"},
        BadCase{"lag_inner_space", Base({{"lagThreshold", "1 0"}}), "\"lagThreshold\"",
                "whole number"},
        BadCase{"lag_overflow", Base({{"lagThreshold", "9223372036854775808"}}),
                "\"lagThreshold\"", "64-bit"},
        BadCase{"lag_huge_overflow", Base({{"lagThreshold", "99999999999999999999999"}}),
                "\"lagThreshold\"", "64-bit"},
        BadCase{"activation_negative", Base({{"activationLagThreshold", "-1"}}),
                "\"activationLagThreshold\"", ">= 0"},
        BadCase{"activation_junk", Base({{"activationLagThreshold", "1e3"}}),
                "\"activationLagThreshold\"", "whole number"},
        BadCase{"account_empty", Base({{"account", ""}}), "\"account\"", "empty"},
        BadCase{"account_only_spaces", Base({{"account", "  "}}), "\"account\"", "empty"},
        BadCase{"account_id_empty", Base({{"accountID", " "}}), "\"accountID\"", "empty"},
        BadCase{"account_and_id_disagree", Base({{"account", "A"}, {"accountID", "B"}}),
                "\"accountID\"=\"B\"", "disagree"},
        BadCase{"connection_empty", Base({{"connection", "\t"}}), "\"connection\"", "empty"},
        BadCase{"stream_only_spaces", Base({{"stream", "   "}}), "\"stream\"", "empty"},
        BadCase{"stream_inner_space", Base({{"stream", " a b "}}), "\"stream\"", "whitespace"},
        BadCase{"nats_url_empty", Base({{"natsUrl", ""}}), "\"natsUrl\"", "empty"},
        BadCase{"push_interval_junk", Base({{"pushInterval", "fast"}}), "\"pushInterval\"",
                "duration"},
        BadCase{"push_interval_below_floor", Base({{"pushInterval", "10ms"}}),
                "\"pushInterval\"", "between 100ms"}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

// KEDA's typed config trims values (strings.TrimSpace) before its built-in scalers see them;
// migrated YAML such as `lagThreshold: " 10 "` must mean the same here. Each row: the raw
// value KEDA forwards for `key` -> the value used.
struct TrimCase {
  const char* key;
  const char* raw;
  const char* used;  // the stored value, printed
};

class MetadataTrimTest : public ::testing::TestWithParam<TrimCase> {};

std::string StoredValue(const TriggerMetadata& md, std::string_view key) {
  if (key == "stream") return md.stream;
  if (key == "consumer") return md.consumer;
  if (key == "lagThreshold") return std::to_string(md.lag_threshold);
  if (key == "activationLagThreshold") return std::to_string(md.activation_lag_threshold);
  if (key == "account" || key == "accountID") return md.account.value_or("<unset>");
  if (key == "connection") return md.connection.value_or("<unset>");
  if (key == "natsUrl") return md.nats_url.value_or("<unset>");
  if (key == "pushInterval") {
    return md.push_interval ? std::to_string(md.push_interval->count()) + "ms" : "<unset>";
  }
  return "<unknown key>";
}

TEST_P(MetadataTrimTest, SurroundingWhiteSpaceIsTrimmedLikeKeda) {
  const TrimCase& c = GetParam();
  auto md = Parse(Base({{c.key, c.raw}}));
  ASSERT_TRUE(md.ok()) << c.key << "=\"" << c.raw << "\": " << md.status().ToString();
  EXPECT_EQ(StoredValue(*md, c.key), c.used) << c.key << "=\"" << c.raw << "\"";
}

INSTANTIATE_TEST_SUITE_P(
    Table, MetadataTrimTest,
    ::testing::Values(TrimCase{"lagThreshold", " 10 ", "10"},
                      TrimCase{"lagThreshold", "\t25\n", "25"},
                      TrimCase{"lagThreshold", " +7", "7"},
                      TrimCase{"activationLagThreshold", "  3", "3"},
                      TrimCase{"activationLagThreshold", "0\r\n", "0"},
                      TrimCase{"stream", " ORDERS\t", "ORDERS"},
                      TrimCase{"consumer", "\nworkers ", "workers"},
                      TrimCase{"account", " ORDERS_ACCT ", "ORDERS_ACCT"},
                      TrimCase{"accountID", " $G", "$G"},
                      TrimCase{"connection", "orders ", "orders"},
                      TrimCase{"natsUrl", " nats://nats:4222 ", "nats://nats:4222"},
                      TrimCase{"pushInterval", " 500ms ", "500ms"}));

TEST(MetadataTest, AccountIdIsAnotherSpellingOfAccount) {
  auto only_id = Parse(Base({{"accountID", "ORDERS_ACCT"}}));
  ASSERT_TRUE(only_id.ok()) << only_id.status().ToString();
  EXPECT_EQ(only_id->account, "ORDERS_ACCT");
  auto both = Parse(Base({{"account", "A"}, {"accountID", " A "}}));
  ASSERT_TRUE(both.ok()) << both.status().ToString();
  EXPECT_EQ(both->account, "A");
  EXPECT_TRUE(both->ignored_builtin_keys.empty());
}

TEST(MetadataTest, AcceptsInt64Extremes) {
  auto md = Parse(Base({{"lagThreshold", "9223372036854775807"}, {"activationLagThreshold", "+7"}}));
  ASSERT_TRUE(md.ok()) << md.status().ToString();
  EXPECT_EQ(md->lag_threshold, INT64_MAX);
  EXPECT_EQ(md->activation_lag_threshold, 7);
}

TEST(MetadataTest, TableListsEveryDocumentedKeyOnce) {
  std::set<std::string_view> keys;
  for (const auto& f : MetadataFields()) EXPECT_TRUE(keys.insert(f.key).second) << f.key;
  for (const char* k : {"stream", "consumer", "lagThreshold", "activationLagThreshold", "account",
                        "natsUrl", "natsServerMonitoringEndpoint", "useHttps", "accountID",
                        "connection", "ageThreshold", "activationAgeThreshold"}) {
    EXPECT_TRUE(keys.count(k)) << k;
  }
}

struct AgeCase {
  const char* value;
  int64_t millis;
};

class AgeThresholdTest : public ::testing::TestWithParam<AgeCase> {};

TEST_P(AgeThresholdTest, TakesGoDurationsAndPlainSeconds) {
  auto md = Parse(Base({{"ageThreshold", GetParam().value}}));
  ASSERT_TRUE(md.ok()) << GetParam().value << ": " << md.status().ToString();
  ASSERT_TRUE(md->is_age_trigger());
  EXPECT_EQ(md->age_threshold, std::chrono::milliseconds(GetParam().millis)) << GetParam().value;
  EXPECT_EQ(md->activation_age_threshold, std::chrono::milliseconds(0));
}

INSTANTIATE_TEST_SUITE_P(Table, AgeThresholdTest,
                         ::testing::Values(AgeCase{"30s", 30000}, AgeCase{"2m", 120000},
                                           AgeCase{"1m30s", 90000}, AgeCase{"250ms", 250},
                                           AgeCase{"30", 30000}, AgeCase{"2.5", 2500},
                                           AgeCase{"0.001", 1}, AgeCase{" 45 ", 45000},
                                           AgeCase{"720h", 2592000000}));

TEST(AgeTriggerTest, ActivationAgeThresholdTakesTheSameFormsAndZero) {
  for (auto [value, millis] : {std::pair{"0", 0}, std::pair{"10s", 10000}, std::pair{"1.5", 1500}}) {
    auto md = Parse(Base({{"ageThreshold", "30s"}, {"activationAgeThreshold", value}}));
    ASSERT_TRUE(md.ok()) << value << ": " << md.status().ToString();
    EXPECT_EQ(md->activation_age_threshold, std::chrono::milliseconds(millis)) << value;
  }
}

TEST(AgeTriggerTest, ALagTriggerIsNotAnAgeTrigger) {
  auto md = Parse(Base());
  ASSERT_TRUE(md.ok());
  EXPECT_FALSE(md->is_age_trigger());
}

INSTANTIATE_TEST_SUITE_P(
    Age, MetadataRejectsTest,
    ::testing::Values(
        BadCase{"age_zero", Base({{"ageThreshold", "0"}}), "\"ageThreshold\"", "between 1ms"},
        BadCase{"age_zero_seconds", Base({{"ageThreshold", "0s"}}), "\"ageThreshold\"",
                "between 1ms"},
        BadCase{"age_negative", Base({{"ageThreshold", "-5s"}}), "\"ageThreshold\"",
                "a Go duration such as 30s"},
        BadCase{"age_negative_seconds", Base({{"ageThreshold", "-5"}}), "\"ageThreshold\"",
                "plain seconds such as 30"},
        BadCase{"age_words", Base({{"ageThreshold", "soon"}}), "\"ageThreshold\"",
                "a Go duration"},
        BadCase{"age_empty", Base({{"ageThreshold", ""}}), "\"ageThreshold\"", "a Go duration"},
        BadCase{"age_micro_precision", Base({{"ageThreshold", "1.0001"}}), "\"ageThreshold\"",
                "plain seconds"},
        BadCase{"age_two_dots", Base({{"ageThreshold", "1.2.3"}}), "\"ageThreshold\"",
                "plain seconds"},
        BadCase{"age_trailing_dot", Base({{"ageThreshold", "5."}}), "\"ageThreshold\"",
                "plain seconds"},
        BadCase{"age_too_long", Base({{"ageThreshold", "721h"}}), "\"ageThreshold\"", "720h"},
        BadCase{"age_huge_number", Base({{"ageThreshold", "99999999999999999999"}}),
                "\"ageThreshold\"", "plain seconds"},
        BadCase{"age_with_lag", Base({{"ageThreshold", "30s"}, {"lagThreshold", "5"}}),
                "\"ageThreshold\" and \"lagThreshold\"", "cannot be combined"},
        BadCase{"age_with_activation_lag",
                Base({{"ageThreshold", "30s"}, {"activationLagThreshold", "5"}}),
                "\"ageThreshold\" and \"activationLagThreshold\"", "cannot be combined"},
        BadCase{"activation_age_alone", Base({{"activationAgeThreshold", "5s"}}),
                "\"activationAgeThreshold\" needs \"ageThreshold\"", "remove"},
        BadCase{"activation_age_bad", Base({{"ageThreshold", "30s"}, {"activationAgeThreshold", "x"}}),
                "\"activationAgeThreshold\"", "a Go duration"}));

TEST(MetricNameTest, AnAgeTriggerHasItsOwnName) {
  EXPECT_EQ(MetricNameForAge("ORDERS"), "nats-jetstream-age-ORDERS");
  EXPECT_EQ(MetricNameForAge("a.b"), "nats-jetstream-age-a-b");
  EXPECT_NE(MetricNameForAge("ORDERS"), MetricNameForStream("ORDERS"));
}

struct NameCase {
  const char* stream;
  const char* metric;
};

class MetricNameTest : public ::testing::TestWithParam<NameCase> {};

TEST_P(MetricNameTest, NormalisesLikeTheBuiltIn) {
  EXPECT_EQ(MetricNameForStream(GetParam().stream), GetParam().metric);
}

INSTANTIATE_TEST_SUITE_P(Table, MetricNameTest,
                         ::testing::Values(NameCase{"ORDERS", "nats-jetstream-ORDERS"},
                                           NameCase{"Mixed_Case-1", "nats-jetstream-Mixed_Case-1"},
                                           NameCase{"a:b%c(d)e/f.g",
                                                    "nats-jetstream-a-b-c-d-e-f-g"}));

}  // namespace
}  // namespace jss::core
