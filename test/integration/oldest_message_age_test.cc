// The age of a consumer's oldest unacknowledged message (issue 23), read by
// OldestMessageAgeReader from a real nats-server: which message counts (after
// the ack floor, on the consumer's own subjects), its timestamp through direct
// get or STREAM.MSG.GET, the typed errors, and a large body staying bounded.
// Ages are checked against publish times recorded here and the server time of
// the same CONSUMER.INFO reply the reader used (one machine, one clock).
#include <nats/nats.h>

#include <chrono>
#include <future>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "integration/nats_fixture.h"
#include "jss/core/lag/observer.h"
#include "jss/core/base/scheduler.h"
#include "jss/logging/logger.h"
#include "jss/nats/jetstream/jetstream_api.h"
#include "jss/nats/connection/nats_connection.h"
#include "jss/nats/jetstream/oldest_message_age.h"
#include "jss/tools/jetstream_admin.h"
#include "support/nats_server_process.h"
#include "support/test_util.h"

namespace jss::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

int64_t UnixNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A published message: its stream sequence and the local clock around the publish.
struct Published {
  uint64_t seq = 0;
  int64_t before_ns = 0;
  int64_t after_ns = 0;
};

class OldestMessageAgeTest : public NatsFixture {
 protected:
  void SetUp() override {
    NatsFixture::SetUp();
    if (HasFatalFailure()) return;
    nats::NatsConnectionOptions options;
    options.servers = {nats_->url()};
    auto opened = nats::NatsConnection::Open(std::move(options), observer_,
                                             logging::Logger::Null(), scheduler_);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    conn_ = std::move(*opened);
    ASSERT_TRUE(WaitFor([&] { return conn_->IsConnected(); }));
    connections_.Add("default", conn_.get());
    reader_ = std::make_unique<nats::OldestMessageAgeReader>(connections_);
  }

  void TearDown() override {
    reader_.reset();
    if (conn_) conn_->Shutdown();
  }

  std::string Api(const std::string& subject, const std::string& body) {
    auto reply = admin_->Request(subject, body);
    EXPECT_TRUE(reply.ok()) << reply.status().ToString();
    if (!reply.ok()) return "";
    EXPECT_THAT(*reply, Not(HasSubstr("\"error\""))) << subject << " " << body;
    return *reply;
  }

  void Stream(const std::string& name, const std::string& subjects, bool allow_direct) {
    Api("$JS.API.STREAM.CREATE." + name,
        R"({"name":")" + name + R"(","subjects":[)" + subjects + R"(],"storage":"memory",)" +
            R"("allow_direct":)" + (allow_direct ? "true" : "false") + "}");
  }

  void Consumer(const std::string& stream, const std::string& name, const std::string& extra) {
    Api("$JS.API.CONSUMER.CREATE." + stream + "." + name,
        R"({"stream_name":")" + stream + R"(","config":{"durable_name":")" + name +
            R"(","ack_policy":"explicit")" + extra + "}}");
  }

  Published Publish(const std::string& subject, const std::string& body = "work") {
    Published p;
    p.before_ns = UnixNowNs();
    auto ack = admin_->Request(subject, body);  // a JetStream publish: the reply is its ack
    p.after_ns = UnixNowNs();
    EXPECT_TRUE(ack.ok()) << ack.status().ToString();
    if (!ack.ok()) return p;
    EXPECT_THAT(*ack, HasSubstr("\"seq\":")) << *ack;
    const size_t at = ack->find("\"seq\":");
    if (at != std::string::npos) p.seq = std::stoull(ack->substr(at + 6));
    return p;
  }

  core::StatusOr<nats::ConsumerAge> Read(const std::string& stream, const std::string& consumer) {
    std::promise<core::StatusOr<nats::ConsumerAge>> promise;
    auto future = promise.get_future();
    reader_->ReadConsumerAndAge({"default", stream, consumer},
                                std::chrono::steady_clock::now() + std::chrono::seconds(5),
                                [&](const core::StatusOr<nats::ConsumerAge>& r) {
                                  promise.set_value(r);
                                });
    return future.get();
  }

  // Reads until the consumer's counters show `pending` + ack-pending
  // messages: nats-server 2.10+ may answer CONSUMER.INFO before it has
  // counted a publish it already acknowledged (another queue).
  core::StatusOr<nats::ConsumerAge> ReadWithLag(const std::string& stream,
                                                const std::string& consumer, uint64_t lag) {
    core::StatusOr<nats::ConsumerAge> read = core::UnavailableError("not read");
    EXPECT_TRUE(WaitFor([&] {
      read = Read(stream, consumer);
      return read.ok() && read->position.lag.Total() == lag;
    })) << (read.ok() ? "lag " + std::to_string(read->position.lag.Total())
                      : read.status().ToString());
    return read;
  }

  // The age of `p` as of the reply's server time, within the publish's window.
  static void ExpectAgeOf(const nats::ConsumerAge& read, const Published& p) {
    EXPECT_EQ(read.age.oldest_seq, p.seq);
    ASSERT_TRUE(read.position.server_time_ns.has_value() ||
                !NatsServerProcess::VersionAtLeast(2, 10, 0));
    if (!read.position.server_time_ns) return;  // 2.9: the scaler's clock, checked by seq only
    const int64_t now = *read.position.server_time_ns;
    EXPECT_GE(read.age.age_ms, (now - p.after_ns) / 1'000'000 - 1);
    EXPECT_LE(read.age.age_ms, (now - p.before_ns) / 1'000'000 + 1);
  }

  core::NullObserver observer_;
  core::ThreadScheduler scheduler_;
  std::unique_ptr<nats::NatsConnection> conn_;
  nats::JetStreamConnections connections_;
  std::unique_ptr<nats::OldestMessageAgeReader> reader_;
};

TEST_F(OldestMessageAgeTest, PendingMessagesAgeIsThatOfTheFirstAndOtherSubjectsDoNotCount) {
  Stream("AGE", R"("age.>")", /*allow_direct=*/true);
  Consumer("AGE", "w", R"(,"filter_subject":"age.a")");
  // Older, on a subject of the stream that the consumer does not take.
  const Published other = Publish("age.other");
  const Published first = Publish("age.a");
  Publish("age.a");
  // Awaited, not slept: the age must be well above the publish window's width.
  ASSERT_TRUE(WaitFor([&] { return UnixNowNs() - first.after_ns > 300'000'000; }));
  auto read = ReadWithLag("AGE", "w", 2);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->position.lag.num_pending, 2u);
  ExpectAgeOf(*read, first);
  EXPECT_GE(read->age.age_ms, 300);
  EXPECT_NE(read->age.oldest_seq, other.seq);
  EXPECT_EQ(read->age.requests, 2);  // STREAM.INFO (allow_direct), one direct get
  read = Read("AGE", "w");
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->age.requests, 1);  // the stream's config is remembered
}

TEST_F(OldestMessageAgeTest, DeliveredButUnackedMessagesCountAndAcknowledgedOnesDoNot) {
  Stream("AGE", R"("age.>")", true);
  Consumer("AGE", "w", R"(,"filter_subject":"age.a")");
  const Published first = Publish("age.a");
  const Published second = Publish("age.a");
  const Published third = Publish("age.a");
  // Delivered, not acknowledged: still the oldest unacknowledged one.
  ASSERT_EQ(*admin_->Fetch("AGE", "w", 1, /*ack=*/false), 1);
  auto read = Read("AGE", "w");
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->position.lag.num_ack_pending, 1u);
  ExpectAgeOf(*read, first);

  // A second consumer that acknowledges the first two: the third is its oldest.
  Consumer("AGE", "acker", R"(,"filter_subject":"age.a")");
  ASSERT_EQ(*admin_->Fetch("AGE", "acker", 2, /*ack=*/true), 2);
  ASSERT_TRUE(WaitFor([&] {
    auto r = Read("AGE", "acker");
    return r.ok() && r->position.ack_floor_stream_seq == second.seq;
  }));
  read = Read("AGE", "acker");
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ExpectAgeOf(*read, third);
}

TEST_F(OldestMessageAgeTest, AMessageThatGaveUpAtMaxDeliverDoesNotCount) {
  Stream("AGE", R"("age.>")", true);
  Consumer("AGE", "once", R"(,"filter_subject":"age.a","max_deliver":1,"ack_wait":500000000)");
  const Published given_up = Publish("age.a");
  const Published next = Publish("age.a");
  ASSERT_EQ(*admin_->Fetch("AGE", "once", 1, /*ack=*/false), 1);
  if (!NatsServerProcess::VersionAtLeast(2, 10, 27)) {
    // 2.9.10 and 2.10.5 keep a given-up message ack-pending for good: the lag
    // counts it, and so does the age (the two agree).
    auto read = ReadWithLag("AGE", "once", 2);
    ASSERT_TRUE(read.ok()) << read.status().ToString();
    ExpectAgeOf(*read, given_up);
    return;
  }
  // Its ack wait passes; with max_deliver 1 it is never delivered again. 2.11
  // and 2.15 leave the ack floor before it (2.10.27 moves it past).
  auto read = ReadWithLag("AGE", "once", 1);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->position.lag.num_ack_pending, 0u);
  ExpectAgeOf(*read, next);
}

TEST_F(OldestMessageAgeTest, APublisherCannotForgeTheTimestampOrTheStatus) {
  Stream("AGE", R"("age.>")", true);
  Consumer("AGE", "w", R"(,"filter_subject":"age.a")");
  // Headers a hostile publisher sets: nats-server appends its own Nats-*
  // after them, and the reply's status line is not a header it can send.
  natsConnection* nc = nullptr;
  ASSERT_EQ(natsConnection_ConnectTo(&nc, nats_->url().c_str()), NATS_OK);
  natsMsg* msg = nullptr;
  ASSERT_EQ(natsMsg_Create(&msg, "age.a", nullptr, "work", 4), NATS_OK);
  natsMsgHeader_Set(msg, "Nats-Time-Stamp", "1999-01-01T00:00:00Z");
  natsMsgHeader_Set(msg, "Nats-Sequence", "99");
  natsMsgHeader_Add(msg, "Status", "404");
  Published forged;
  forged.before_ns = UnixNowNs();
  natsMsg* ack = nullptr;
  ASSERT_EQ(natsConnection_RequestMsg(&ack, nc, msg, 5000), NATS_OK);
  forged.after_ns = UnixNowNs();
  const std::string ack_body(natsMsg_GetData(ack), natsMsg_GetDataLength(ack));
  natsMsg_Destroy(ack);
  natsMsg_Destroy(msg);
  natsConnection_Destroy(nc);
  ASSERT_THAT(ack_body, HasSubstr("\"seq\":1")) << ack_body;
  forged.seq = 1;
  auto read = ReadWithLag("AGE", "w", 1);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ExpectAgeOf(*read, forged);  // the server's time and sequence, not 1999 / 99 / "none"
  EXPECT_LT(read->age.age_ms, 60'000);
}

TEST_F(OldestMessageAgeTest, ADrainedConsumerIsZeroWithoutARequest) {
  Stream("AGE", R"("age.>")", true);
  Consumer("AGE", "w", R"(,"filter_subject":"age.a")");
  Publish("age.a");
  Publish("age.b");  // not the consumer's: must not make it look busy
  ASSERT_EQ(*admin_->Fetch("AGE", "w", 1, /*ack=*/true), 1);
  ASSERT_TRUE(WaitFor([&] {
    auto r = Read("AGE", "w");
    return r.ok() && r->position.lag.Total() == 0;
  }));
  auto read = Read("AGE", "w");
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->age.age_ms, 0);
  EXPECT_EQ(read->age.oldest_seq, 0u);
  EXPECT_EQ(read->age.requests, 0);
}

TEST_F(OldestMessageAgeTest, NothingAfterTheFloorOnTheSubjectIsZeroNotAnError) {
  // A position claiming lag while the stream holds nothing after the floor
  // (the messages were purged between the two reads): 404 / 10037 means 0.
  Stream("AGE", R"("age.>")", true);
  Stream("ND", R"("nd.>")", false);
  Consumer("AGE", "w", R"(,"filter_subject":"age.a")");
  Consumer("ND", "w", R"(,"filter_subject":"nd.a")");
  Publish("age.a");
  Publish("nd.a");
  for (const char* stream : {"AGE", "ND"}) {
    auto read = ReadWithLag(stream, "w", 1);
    ASSERT_TRUE(read.ok()) << read.status().ToString();
    ASSERT_NE(read->age.oldest_seq, 0u);
    Api(std::string("$JS.API.STREAM.PURGE.") + stream, "");
    std::promise<nats::AgeResult> promise;
    reader_->ReadAge({"default", stream, "w"}, read->position,
                     std::chrono::steady_clock::now() + std::chrono::seconds(5),
                     [&](const nats::AgeResult& r) { promise.set_value(r); });
    auto age = promise.get_future().get();
    ASSERT_TRUE(age.ok()) << stream << ": " << age.status().ToString();
    EXPECT_EQ(age->age_ms, 0) << stream;
    EXPECT_EQ(age->oldest_seq, 0u) << stream;
  }
}

TEST_F(OldestMessageAgeTest, AStreamWithoutDirectGetIsReadWithMsgGetAndRemembered) {
  Stream("ND", R"("nd.>")", /*allow_direct=*/false);
  Consumer("ND", "w", "");  // the whole stream
  const Published first = Publish("nd.x");
  Publish("nd.y");
  auto read = ReadWithLag("ND", "w", 2);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ExpectAgeOf(*read, first);
  EXPECT_EQ(read->age.requests, 2);  // STREAM.INFO (no allow_direct), STREAM.MSG.GET
  read = Read("ND", "w");
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ExpectAgeOf(*read, first);
  EXPECT_EQ(read->age.requests, 1);
}

TEST_F(OldestMessageAgeTest, AConsumerStartingAtNewMessagesIgnoresOlderOnes) {
  Stream("AGE", R"("age.>")", true);
  Publish("age.a");
  Publish("age.a");
  // 2.9-2.11 report ack floor 0 for this consumer until its first ack.
  Consumer("AGE", "fresh", R"(,"deliver_policy":"new","filter_subject":"age.a")");
  const Published mine = Publish("age.a");
  auto read = ReadWithLag("AGE", "fresh", 1);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ExpectAgeOf(*read, mine);
}

TEST_F(OldestMessageAgeTest, MissingStreamAndConsumerAreNotFound) {
  Stream("AGE", R"("age.>")", true);
  auto no_consumer = Read("AGE", "nobody");
  ASSERT_FALSE(no_consumer.ok());
  EXPECT_EQ(no_consumer.status().code(), core::StatusCode::kNotFound);
  EXPECT_THAT(no_consumer.status().message(), HasSubstr("nobody"));
  auto no_stream = Read("NOPE", "w");
  ASSERT_FALSE(no_stream.ok());
  EXPECT_EQ(no_stream.status().code(), core::StatusCode::kNotFound);
  EXPECT_THAT(no_stream.status().message(), HasSubstr("NOPE"));

  // The stream deleted between the lag read and the age read.
  Consumer("AGE", "w", "");
  Publish("age.a");
  auto read = ReadWithLag("AGE", "w", 1);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  Api("$JS.API.STREAM.DELETE.AGE", "");
  std::promise<nats::AgeResult> promise;
  reader_->ReadAge({"default", "AGE", "w"}, read->position,
                   std::chrono::steady_clock::now() + std::chrono::seconds(1),
                   [&](const nats::AgeResult& r) { promise.set_value(r); });
  auto age = promise.get_future().get();
  ASSERT_FALSE(age.ok()) << "an age for a deleted stream";
  // 2.10.27+ answer the direct get with no responders and STREAM.MSG.GET
  // with 10059; 2.9.10 and 2.10.5 never answer it: the deadline's UNAVAILABLE
  // (the next read's CONSUMER.INFO says NOT_FOUND).
  if (NatsServerProcess::VersionAtLeast(2, 10, 27)) {
    EXPECT_EQ(age.status().code(), core::StatusCode::kNotFound) << age.status().ToString();
  } else {
    EXPECT_THAT(age.status().code(), ::testing::AnyOf(core::StatusCode::kNotFound,
                                                      core::StatusCode::kUnavailable))
        << age.status().ToString();
  }
  auto next = Read("AGE", "w");
  EXPECT_EQ(next.status().code(), core::StatusCode::kNotFound) << next.status().ToString();
}

TEST_F(OldestMessageAgeTest, AOneMebibyteBodyIsReadByHeadersOrRefusedNamingAllowDirect) {
  // nats-server's default max_payload is 1 MiB; the body is just under it.
  const std::string body(1'000'000, 'x');
  Stream("BIG", R"("big.>")", /*allow_direct=*/true);
  Consumer("BIG", "w", "");
  const Published big = Publish("big.a", body);
  auto read = ReadWithLag("BIG", "w", 1);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ExpectAgeOf(*read, big);

  // Without direct get only STREAM.MSG.GET is left, and it carries the
  // payload: over the reply limit, a clear error, never a made-up age.
  Stream("BIGND", R"("bignd.>")", /*allow_direct=*/false);
  Consumer("BIGND", "w", "");
  Publish("bignd.a", body);
  core::StatusOr<nats::ConsumerAge> refused = core::UnavailableError("not read");
  ASSERT_TRUE(WaitFor([&] {
    refused = Read("BIGND", "w");
    return !refused.ok();  // until the message is counted, the lag is 0 and so is the age
  }));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), core::StatusCode::kUnavailable);
  EXPECT_THAT(refused.status().message(), HasSubstr("allow_direct"));
}

// nats-server 2.10+ (filter_subjects): the NatsFeatures prefix gives the
// `nats-2.11+` label (test/nats_feature_labels.cmake), which the matrix runs
// on the newest server.
class NatsFeaturesOldestAgeTest : public OldestMessageAgeTest {};

TEST_F(NatsFeaturesOldestAgeTest, FilterSubjectsTakeTheOldestOverTheirSubjects) {
  if (!NatsServerProcess::VersionAtLeast(2, 10, 0)) {
    GTEST_SKIP() << "needs nats-server 2.10+ (this one is " << NatsServerProcess::Version()
                 << "); run with JSS_NATS_SERVER=$(scripts/nats-server.sh v2.15.3)";
  }
  Stream("MF", R"("mf.>")", true);
  Consumer("MF", "both", R"(,"filter_subjects":["mf.b","mf.c"])");
  Publish("mf.a");  // oldest in the stream, not the consumer's
  const Published oldest = Publish("mf.c");
  Publish("mf.b");
  Publish("mf.c");
  auto read = ReadWithLag("MF", "both", 3);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->position.lag.num_pending, 3u);
  ExpectAgeOf(*read, oldest);
  EXPECT_EQ(read->age.requests, 3);  // STREAM.INFO, then one direct get per filter subject
}

TEST_F(NatsFeaturesOldestAgeTest, MoreThanSixteenFilterSubjectsAreRefusedNamingTheLimit) {
  if (!NatsServerProcess::VersionAtLeast(2, 10, 0)) {
    GTEST_SKIP() << "needs nats-server 2.10+ (this one is " << NatsServerProcess::Version()
                 << "); run with JSS_NATS_SERVER=$(scripts/nats-server.sh v2.15.3)";
  }
  Stream("MF", R"("mf.>")", true);
  std::string subjects;
  for (int i = 0; i < 17; ++i) subjects += std::string(i ? "," : "") + "\"mf." + std::to_string(i) + "\"";
  Consumer("MF", "many", R"(,"filter_subjects":[)" + subjects + "]");
  // Drained or not, the same answer: it does not flip with the backlog.
  for (int round = 0; round < 2; ++round) {
    auto read = Read("MF", "many");
    ASSERT_FALSE(read.ok()) << "round " << round;
    EXPECT_EQ(read.status().code(), core::StatusCode::kInvalidArgument);
    EXPECT_THAT(read.status().message(), HasSubstr("17 filter subjects"));
    EXPECT_THAT(read.status().message(), HasSubstr("at most 16"));
    Publish("mf.3");
  }
}

}  // namespace
}  // namespace jss::testing
