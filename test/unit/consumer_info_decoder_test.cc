#include "jss/core/lag/consumer_info_decoder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace jss::core {
namespace {

using ::testing::HasSubstr;

TEST(ConsumerInfoDecoderTest, ReadsBothCounters) {
  const char* body =
      R"({"type":"io.nats.jetstream.api.v1.consumer_info_response","stream_name":"S",)"
      R"("name":"C","num_ack_pending":5,"num_redelivered":0,"num_waiting":0,"num_pending":20})";
  auto lag = DecodeConsumerInfoResponse(body, "S", "C");
  ASSERT_TRUE(lag.ok()) << lag.status().ToString();
  EXPECT_EQ(lag->num_pending, 20u);
  EXPECT_EQ(lag->num_ack_pending, 5u);
}

TEST(ConsumerInfoDecoderTest, ReadsLargeUnsignedCounters) {
  auto lag = DecodeConsumerInfoResponse(
      R"({"num_pending":18446744073709551615,"num_ack_pending":0})", "S", "C");
  ASSERT_TRUE(lag.ok());
  EXPECT_EQ(lag->num_pending, 18446744073709551615u);
}

TEST(ConsumerInfoDecoderTest, RefusesBodiesOverTheLimitBeforeParsing) {
  // Valid JSON with the counters, padded past the limit: refused, never read.
  const std::string body = R"({"num_pending":1,"num_ack_pending":2,"pad":")" +
                           std::string(kMaxReplyBytes, 'x') + R"("})";
  auto lag = DecodeConsumerInfoResponse(body, "S", "C");
  ASSERT_FALSE(lag.ok());
  EXPECT_EQ(lag.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(lag.status().message(), HasSubstr("exceeds the 65536-byte limit"));
  EXPECT_FALSE(DecodeConsumerFilterSubjects(body, "S", "C").ok());
  EXPECT_FALSE(DecodeStreamSubjects(body, "S").ok());
}

TEST(ConsumerInfoDecoderTest, DeepOrUnknownStructuresAreDroppedNotKept) {
  // Deep nesting under fields nobody reads, and under a field we do read.
  const std::string deep = std::string(20000, '[') + std::string(20000, ']');
  auto lag = DecodeConsumerInfoResponse(
      R"({"junk":)" + deep + R"(,"num_pending":4,"num_ack_pending":1})", "S", "C");
  ASSERT_TRUE(lag.ok()) << lag.status().ToString();
  EXPECT_EQ(lag->Total(), 5u);
  auto filters = DecodeConsumerFilterSubjects(
      R"({"config":{"filter_subjects":["a.>",)" + deep + R"(,"b.*"]}})", "S", "C");
  ASSERT_TRUE(filters.ok()) << filters.status().ToString();
  EXPECT_EQ(*filters, (std::vector<std::string>{"a.>", "b.*"}));
}

TEST(ConsumerInfoDecoderTest, AnErrorDescriptionIsEchoedTruncated) {
  const std::string body = R"({"error":{"code":500,"err_code":1,"description":")" +
                           std::string(10000, 'd') + R"("}})";
  auto lag = DecodeConsumerInfoResponse(body, "S", "C");
  ASSERT_FALSE(lag.ok());
  EXPECT_LT(lag.status().message().size(), 300u) << "the peer's text set our message size";
  EXPECT_THAT(lag.status().message(), HasSubstr("(10000 bytes)"));
}

struct ErrorCase {
  const char* name;
  const char* body;
  StatusCode code;
  const char* message_part;
};

class ConsumerInfoErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ConsumerInfoErrorTest, NeverBecomesAZero) {
  const auto& c = GetParam();
  auto lag = DecodeConsumerInfoResponse(c.body, "ORDERS", "workers");
  ASSERT_FALSE(lag.ok()) << c.name;
  EXPECT_EQ(lag.status().code(), c.code) << c.name << ": " << lag.status().ToString();
  EXPECT_THAT(lag.status().message(), HasSubstr(c.message_part)) << c.name;
}

INSTANTIATE_TEST_SUITE_P(
    Table, ConsumerInfoErrorTest,
    ::testing::Values(
        ErrorCase{"consumer_missing",
                  R"({"error":{"code":404,"err_code":10014,"description":"consumer not found"}})",
                  StatusCode::kNotFound, "consumer \"workers\" not found on stream \"ORDERS\""},
        ErrorCase{"stream_missing",
                  R"({"error":{"code":404,"err_code":10059,"description":"stream not found"}})",
                  StatusCode::kNotFound, "stream \"ORDERS\" not found"},
        ErrorCase{"js_disabled",
                  R"({"error":{"code":503,"err_code":10039,"description":"jetstream not enabled"}})",
                  StatusCode::kUnavailable, "not enabled"},
        ErrorCase{"other_api_error",
                  R"({"error":{"code":500,"err_code":10999,"description":"boom"}})",
                  StatusCode::kUnavailable, "boom"},
        ErrorCase{"not_json", "<html>", StatusCode::kUnavailable, "not JSON"},
        ErrorCase{"empty", "", StatusCode::kUnavailable, "not JSON"},
        ErrorCase{"array", "[1,2]", StatusCode::kUnavailable, "not a JSON object"},
        ErrorCase{"missing_pending", R"({"num_ack_pending":1})", StatusCode::kUnavailable,
                  "num_pending"},
        ErrorCase{"missing_ack_pending", R"({"num_pending":1})", StatusCode::kUnavailable,
                  "num_ack_pending"},
        ErrorCase{"negative", R"({"num_pending":-1,"num_ack_pending":0})",
                  StatusCode::kUnavailable, "num_pending"},
        ErrorCase{"string_counter", R"({"num_pending":"5","num_ack_pending":0})",
                  StatusCode::kUnavailable, "num_pending"},
        ErrorCase{"float_counter", R"({"num_pending":1.5,"num_ack_pending":0})",
                  StatusCode::kUnavailable, "num_pending"}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

}  // namespace
}  // namespace jss::core

namespace jss::core {
namespace {

struct SubjectsCase {
  std::string name;
  std::string body;
  std::vector<std::string> subjects;
};

class FilterSubjectsTest : public ::testing::TestWithParam<SubjectsCase> {};

TEST_P(FilterSubjectsTest, ReadsTheConsumersSubjects) {
  auto subjects = DecodeConsumerFilterSubjects(GetParam().body, "S", "C");
  ASSERT_TRUE(subjects.ok()) << subjects.status().ToString();
  EXPECT_EQ(*subjects, GetParam().subjects);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, FilterSubjectsTest,
    ::testing::Values(
        SubjectsCase{"single", R"({"config":{"filter_subject":"orders.eu.>"}})", {"orders.eu.>"}},
        SubjectsCase{"several",
                     R"({"config":{"filter_subjects":["a.*","b.>"]}})",
                     {"a.*", "b.>"}},
        SubjectsCase{"whole_stream", R"({"config":{"durable_name":"C"}})", {}},
        SubjectsCase{"empty_filter", R"({"config":{"filter_subject":""}})", {}}),
    [](const auto& param_info) { return param_info.param.name; });

TEST(FilterSubjectsErrorTest, ErrorsKeepTheirMeaning) {
  auto missing = DecodeConsumerFilterSubjects(
      R"({"error":{"code":404,"err_code":10014,"description":"consumer not found"}})", "S", "C");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(DecodeConsumerFilterSubjects("not json", "S", "C").ok());
  EXPECT_FALSE(DecodeConsumerFilterSubjects(R"({"num_pending":1})", "S", "C").ok());
}

TEST(StreamSubjectsTest, ReadsTheStreamsSubjects) {
  auto subjects = DecodeStreamSubjects(R"({"config":{"subjects":["orders.>","audit"]}})", "S");
  ASSERT_TRUE(subjects.ok());
  EXPECT_EQ(*subjects, (std::vector<std::string>{"orders.>", "audit"}));
  EXPECT_EQ(DecodeStreamSubjects(
                R"({"error":{"code":404,"err_code":10059,"description":"stream not found"}})", "S")
                .status()
                .code(),
            StatusCode::kNotFound);
}

}  // namespace
}  // namespace jss::core

namespace jss::core {
namespace {

// Replies captured from a real nats-server v2.15.3 by
// test/nats-servers/capture-consumer-info.py (stream S: 10 messages on s.a,
// 5 on s.b); they also seed the consumer_info fuzzer. Each carries fields
// the decoder does not read (pause_remaining, priority_groups state,
// config.metadata's _nats.level, ...): they must not change the lag.
struct CapturedReply {
  std::string kind;
  uint64_t num_pending;
  uint64_t num_ack_pending;
  std::vector<std::string> filters;
};

std::string ReadCaptured(const std::string& name) {
  const std::string path = std::string(JSS_CONSUMER_INFO_CORPUS) + "/" + name;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << "missing captured reply " << path;
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

class CapturedV2_15Test : public ::testing::TestWithParam<CapturedReply> {};

TEST_P(CapturedV2_15Test, LagIsPendingPlusAckPendingAndNewFieldsAreIgnored) {
  const auto& c = GetParam();
  const std::string body = ReadCaptured("v2.15.3-" + c.kind);
  ASSERT_FALSE(body.empty());
  auto lag = DecodeConsumerInfoResponse(body, "S", c.kind);
  ASSERT_TRUE(lag.ok()) << c.kind << ": " << lag.status().ToString();
  EXPECT_EQ(lag->num_pending, c.num_pending) << c.kind;
  EXPECT_EQ(lag->num_ack_pending, c.num_ack_pending) << c.kind;
  auto filters = DecodeConsumerFilterSubjects(body, "S", c.kind);
  ASSERT_TRUE(filters.ok()) << c.kind << ": " << filters.status().ToString();
  EXPECT_EQ(*filters, c.filters) << c.kind;
}

INSTANTIATE_TEST_SUITE_P(
    Kinds, CapturedV2_15Test,
    ::testing::Values(
        // 3 of s.a's 10 fetched and not acknowledged.
        CapturedReply{"pull", 7, 3, {"s.a"}},
        // Nobody bound to the deliver subject: everything still pending.
        CapturedReply{"push", 15, 0, {}},
        // Two filter subjects (2.10+): both counted, 2 fetched.
        CapturedReply{"filters", 13, 2, {"s.a", "s.b"}},
        // paused + pause_remaining (2.11+): the counters are as for any consumer.
        CapturedReply{"paused", 15, 0, {}},
        // priority_groups state with a pinned_client_id (2.11+): 1 fetched.
        CapturedReply{"pinned", 14, 1, {}},
        // overflow policy, 4 fetched by the group.
        CapturedReply{"overflow", 11, 4, {}},
        // prioritized policy (2.12+), nothing fetched.
        CapturedReply{"prioritized", 15, 0, {}}),
    [](const auto& param_info) { return param_info.param.kind; });

// nats-server 2.11+ adds `paused` / `pause_remaining`; older servers send neither.
TEST(ConsumerInfoDecoderTest, ReadsThePauseOfA211ConsumerAndKeepsItsCounters) {
  auto lag = DecodeConsumerInfoResponse(
      R"({"num_pending":7,"num_ack_pending":1,"paused":true,"pause_remaining":3600000000000,)"
      R"("config":{"pause_until":"2030-01-01T00:00:00Z"}})",
      "S", "C");
  ASSERT_TRUE(lag.ok()) << lag.status().ToString();
  EXPECT_TRUE(lag->paused);
  EXPECT_EQ(lag->pause_remaining_ns, 3600000000000u);
  EXPECT_EQ(lag->Total(), 8u) << "a pause never changes the lag";
  auto old = DecodeConsumerInfoResponse(R"({"num_pending":7,"num_ack_pending":1})", "S", "C");
  ASSERT_TRUE(old.ok());
  EXPECT_FALSE(old->paused);
  // A paused that is not a bool is no pause (and no error: the counters are fine).
  auto odd = DecodeConsumerInfoResponse(
      R"({"num_pending":7,"num_ack_pending":1,"paused":"yes"})", "S", "C");
  ASSERT_TRUE(odd.ok());
  EXPECT_FALSE(odd->paused);
}

TEST(ApiLevelDecoderTest, ReadsTheLevelOrNoneAndNeverGuessesOne) {
  // 2.11+ ($JS.API.INFO, abridged).
  auto level = DecodeApiLevel(
      R"({"type":"io.nats.jetstream.api.v1.account_info_response","memory":0,"storage":0,)"
      R"("api":{"level":1,"total":3,"errors":0},"limits":{"max_memory":-1}})");
  ASSERT_TRUE(level.ok()) << level.status().ToString();
  ASSERT_TRUE(level->has_value());
  EXPECT_EQ(**level, 1);
  // 2.9 / 2.10: `api` without a level.
  auto none = DecodeApiLevel(R"({"memory":0,"api":{"total":3,"errors":0}})");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  auto refused = DecodeApiLevel(
      R"({"error":{"code":503,"err_code":10039,"description":"jetstream not enabled for account"}})");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(refused.status().message(), HasSubstr("jetstream not enabled for account"));
  for (const char* bad : {R"({"api":{"level":-1}})", R"({"api":{"level":"2"}})",
                          R"({"api":{"level":1e9}})", "[]", "not json"}) {
    EXPECT_FALSE(DecodeApiLevel(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace jss::core
