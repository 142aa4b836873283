#include "jss/core/lag/message_age.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "jss/core/lag/consumer_info_decoder.h"

namespace jss::core {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Captured from nats-server v2.15.3 (/tmp experiments in docs/design/oldest-message-age.md),
// one delivered, unacknowledged message.
constexpr const char* kInfo215 =
    R"({"type":"io.nats.jetstream.api.v1.consumer_info_response","stream_name":"S","name":"C",)"
    R"("created":"2026-12-03T11:43:01.806042003Z","config":{"durable_name":"C","name":"C",)"
    R"("deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,)"
    R"("filter_subject":"a.x","replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,)"
    R"("num_replicas":0,"metadata":{"_nats.level":"5","_nats.req.level":"0","_nats.ver":"2.15.3"}},)"
    R"("delivered":{"consumer_seq":1,"stream_seq":2,"last_active":"2026-12-03T11:43:02.450961037Z"},)"
    R"("ack_floor":{"consumer_seq":0,"stream_seq":0},"num_ack_pending":1,"num_redelivered":0,)"
    R"("num_waiting":0,"num_pending":1,"ts":"2026-12-03T11:43:02.490327642Z"})";

TEST(ConsumerPositionTest, ReadsFloorsFiltersAndServerTime) {
  auto p = DecodeConsumerPosition(kInfo215, "S", "C");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->lag.num_pending, 1u);
  EXPECT_EQ(p->lag.num_ack_pending, 1u);
  EXPECT_EQ(p->ack_floor_stream_seq, 0u);
  EXPECT_EQ(p->delivered_stream_seq, 2u);
  EXPECT_EQ(p->delivered_consumer_seq, 1u);
  EXPECT_THAT(p->filter_subjects, ElementsAre("a.x"));
  EXPECT_EQ(p->deliver_policy, "all");
  ASSERT_TRUE(p->server_time_ns.has_value());
  EXPECT_EQ(*p->server_time_ns, *ParseRfc3339Nanos("2026-12-03T11:43:02.490327642Z"));
  EXPECT_EQ(p->FirstUnackedCandidate(), 1u);
  EXPECT_FALSE(p->StartTimeNs().has_value());
}

TEST(ConsumerPositionTest, ReadsFilterSubjectsAndNoTsOnOldServers) {
  auto p = DecodeConsumerPosition(
      R"({"config":{"filter_subjects":["a.y","b"]},"delivered":{"consumer_seq":0,"stream_seq":0},)"
      R"("ack_floor":{"consumer_seq":0,"stream_seq":0},"num_pending":3,"num_ack_pending":0})",
      "S", "M");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_THAT(p->filter_subjects, ElementsAre("a.y", "b"));
  EXPECT_FALSE(p->server_time_ns.has_value());
}

TEST(ConsumerPositionTest, AMissingFloorIsAnErrorNeverZero) {
  auto p = DecodeConsumerPosition(
      R"({"config":{},"delivered":{"consumer_seq":0,"stream_seq":0},"num_pending":3,)"
      R"("num_ack_pending":0})",
      "S", "C");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(p.status().message(), HasSubstr("ack_floor"));
}

TEST(ConsumerPositionTest, MissingConsumerAndStreamAreNotFound) {
  auto c = DecodeConsumerPosition(
      R"({"error":{"code":404,"err_code":10014,"description":"consumer not found"}})", "S", "C");
  EXPECT_EQ(c.status().code(), StatusCode::kNotFound);
  auto s = DecodeConsumerPosition(
      R"({"error":{"code":404,"err_code":10059,"description":"stream not found"}})", "S", "C");
  EXPECT_EQ(s.status().code(), StatusCode::kNotFound);
}

ConsumerPosition Position(uint64_t floor_c, uint64_t floor_s, uint64_t del_c, uint64_t del_s,
                          std::string policy = "all", uint64_t opt_start_seq = 0) {
  ConsumerPosition p;
  p.ack_floor_consumer_seq = floor_c;
  p.ack_floor_stream_seq = floor_s;
  p.delivered_consumer_seq = del_c;
  p.delivered_stream_seq = del_s;
  p.deliver_policy = std::move(policy);
  p.opt_start_seq = opt_start_seq;
  return p;
}

TEST(ConsumerPositionTest, FirstCandidateIsAfterTheAckFloor) {
  auto p = Position(3, 10, 5, 12);
  p.lag.num_ack_pending = 2;
  EXPECT_EQ(p.FirstUnackedCandidate(), 11u);
  EXPECT_EQ(Position(0, 0, 0, 0).FirstUnackedCandidate(), 1u);
}

TEST(ConsumerPositionTest, WithNothingAckPendingTheDeliveredOnesDoNotCount) {
  // max_deliver 1: seq 1 was delivered, never acked, and given up; the floor stays 0.
  auto p = Position(0, 0, 1, 1);
  p.lag.num_pending = 1;
  p.lag.num_ack_pending = 0;
  EXPECT_EQ(p.FirstUnackedCandidate(), 2u);
  p.lag.num_ack_pending = 1;  // seq 1 may be the one awaiting its ack
  EXPECT_EQ(p.FirstUnackedCandidate(), 1u);
}

TEST(ConsumerPositionTest, BeforeAnyAckTheStartCountsNotTheZeroFloorOfOlderServers) {
  // deliver_policy new on a stream at seq 4, as 2.9-2.11 report it (floor 0).
  EXPECT_EQ(Position(0, 0, 0, 4, "new").FirstUnackedCandidate(), 5u);
  // ... and as 2.15 reports it (floor 4).
  EXPECT_EQ(Position(0, 4, 0, 4, "new").FirstUnackedCandidate(), 5u);
  // by_start_sequence 3, something delivered, nothing acked (floor 0).
  auto by_seq = Position(0, 0, 1, 3, "by_start_sequence", 3);
  by_seq.lag.num_ack_pending = 1;
  EXPECT_EQ(by_seq.FirstUnackedCandidate(), 3u);
}

TEST(ConsumerPositionTest, StartTimeForNewAndByStartTime) {
  auto p = DecodeConsumerPosition(
      R"({"created":"2026-12-03T11:00:00Z","config":{"deliver_policy":"by_start_time",)"
      R"("opt_start_time":"2026-12-03T10:00:00Z"},"delivered":{"consumer_seq":0,"stream_seq":0},)"
      R"("ack_floor":{"consumer_seq":0,"stream_seq":0},"num_pending":3,"num_ack_pending":0})",
      "S", "C");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->StartTimeNs(), ParseRfc3339Nanos("2026-12-03T10:00:00Z"));
  p->deliver_policy = "new";
  EXPECT_EQ(p->StartTimeNs(), ParseRfc3339Nanos("2026-12-03T11:00:00Z"));
}

TEST(MessageGetDecoderTest, ReadsSeqAndTimeAndDropsThePayload) {
  auto m = DecodeMessageGetResponse(
      R"({"type":"io.nats.jetstream.api.v1.stream_msg_get_response","message":{"subject":"a.x",)"
      R"("seq":2,"data":"Zmlyc3Q=","time":"2026-12-03T11:43:01.668826801Z"}})",
      "S");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_TRUE(m->has_value());
  EXPECT_EQ((*m)->seq, 2u);
  EXPECT_EQ((*m)->time_ns, *ParseRfc3339Nanos("2026-12-03T11:43:01.668826801Z"));
}

TEST(MessageGetDecoderTest, NoMessageIsNoneMissingStreamIsNotFoundOthersUnavailable) {
  auto none = DecodeMessageGetResponse(
      R"({"error":{"code":404,"err_code":10037,"description":"no message found"}})", "S");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  auto missing = DecodeMessageGetResponse(
      R"({"error":{"code":404,"err_code":10059,"description":"stream not found"}})", "S");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("\"S\""));
  auto bad = DecodeMessageGetResponse(
      R"({"error":{"code":400,"err_code":10003,"description":"bad request"}})", "S");
  EXPECT_EQ(bad.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(bad.status().message(), HasSubstr("bad request"));
}

TEST(MessageGetDecoderTest, AMessageWithoutTimeOrSeqIsAnErrorNeverZero) {
  auto no_time = DecodeMessageGetResponse(R"({"message":{"seq":2}})", "S");
  EXPECT_EQ(no_time.status().code(), StatusCode::kUnavailable);
  auto no_seq = DecodeMessageGetResponse(R"({"message":{"time":"2026-12-03T11:43:01Z"}})", "S");
  EXPECT_EQ(no_seq.status().code(), StatusCode::kUnavailable);
  auto junk = DecodeMessageGetResponse("not json", "S");
  EXPECT_EQ(junk.status().code(), StatusCode::kUnavailable);
  const std::string big = R"({"message":{"seq":2,"data":")" + std::string(kMaxReplyBytes, 'x') +
                          R"(","time":"2026-12-03T11:43:01Z"}})";
  auto too_big = DecodeMessageGetResponse(big, "S");
  EXPECT_EQ(too_big.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(too_big.status().message(), HasSubstr("exceeds"));
}

TEST(DirectGetHeadersTest, ReadsSequenceAndTimestamp) {
  auto m = DecodeDirectGetHeaders(
      "Nats-Sequence: 2\r\nNats-Time-Stamp: 2026-12-03T11:43:01.668826801Z\r\n", "S");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_TRUE(m->has_value());
  EXPECT_EQ((*m)->seq, 2u);
  EXPECT_EQ((*m)->time_ns, *ParseRfc3339Nanos("2026-12-03T11:43:01.668826801Z"));
}

TEST(DirectGetHeadersTest, AStatusBesideTheServersSequenceIsThePublishersNotTheReplys) {
  const char* headers =
      "Status: 404\r\nNats-Sequence: 7\r\nNats-Time-Stamp: 2026-12-03T11:43:01Z\r\n";
  auto m = DecodeDirectGetHeaders(headers, "S");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_TRUE(m->has_value());
  EXPECT_EQ((*m)->seq, 7u);
  EXPECT_FALSE(IsNoResponders("Status: 503\r\nNats-Sequence: 7\r\n"));
}

TEST(DirectGetHeadersTest, NotFoundIsNoneNoRespondersIsToldApart) {
  auto none = DecodeDirectGetHeaders("Status: 404\r\nDescription: Message Not Found\r\n", "S");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  EXPECT_TRUE(IsNoResponders("Status: 503\r\n"));
  EXPECT_FALSE(IsNoResponders("Status: 404\r\n"));
  auto timeout = DecodeDirectGetHeaders("Status: 408\r\nDescription: Request Timeout\r\n", "S");
  EXPECT_EQ(timeout.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(timeout.status().message(), HasSubstr("408"));
  auto empty = DecodeDirectGetHeaders("", "S");
  EXPECT_EQ(empty.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(empty.status().message(), HasSubstr("Nats-Sequence"));
  auto bad_time = DecodeDirectGetHeaders("Nats-Sequence: 2\r\nNats-Time-Stamp: yesterday\r\n", "S");
  EXPECT_EQ(bad_time.status().code(), StatusCode::kUnavailable);
}

TEST(Rfc3339Test, ParsesServerTimestamps) {
  EXPECT_EQ(ParseRfc3339Nanos("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseRfc3339Nanos("1970-01-01T00:00:01.5Z"), 1'500'000'000);
  EXPECT_EQ(ParseRfc3339Nanos("2000-03-01T00:00:00Z"), int64_t{951868800} * 1'000'000'000);
  EXPECT_EQ(ParseRfc3339Nanos("2026-12-03T11:43:01.668826801Z"),
            int64_t{1796298181} * 1'000'000'000 + 668826801);
  EXPECT_EQ(ParseRfc3339Nanos("2026-12-03T12:43:01+01:00"), ParseRfc3339Nanos("2026-12-03T11:43:01Z"));
  EXPECT_FALSE(ParseRfc3339Nanos("2026-12-03 11:43:01Z").has_value());
  EXPECT_FALSE(ParseRfc3339Nanos("2026-13-03T11:43:01Z").has_value());
  EXPECT_FALSE(ParseRfc3339Nanos("2026-12-03T11:43:01.1234567890Z").has_value());
  EXPECT_FALSE(ParseRfc3339Nanos("0001-01-01T00:00:00Z").has_value());
  EXPECT_FALSE(ParseRfc3339Nanos("2026-12-03T11:43:01").has_value());
}

TEST(AgeMillisTest, AWaitingMessageIsAtLeastOneMillisecondOldRoundedUp) {
  EXPECT_EQ(AgeMillis(5'000'000'000, 2'000'000'000), 3000);
  EXPECT_EQ(AgeMillis(5'000'000'001, 2'000'000'000), 3001) << "rounded up";
  EXPECT_EQ(AgeMillis(2'000'000'100, 2'000'000'000), 1) << "under a millisecond still waits";
  EXPECT_EQ(AgeMillis(2'000'000'000, 2'000'000'000), 1);
  EXPECT_EQ(AgeMillis(2'000'000'000, 5'000'000'000), 1) << "stamped after now: skew, not idle";
  EXPECT_EQ(AgeMillis(INT64_MAX, 0), INT64_MAX / 1'000'000 + 1) << "no overflow";
}

}  // namespace
}  // namespace jss::core
