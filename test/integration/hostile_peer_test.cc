// NATS peers that misbehave on purpose. A peer that completes the handshake and
// then stops reading must not freeze the threads that send requests (gRPC,
// scheduler), must be reported not ready, and must not stop the process from
// draining.
#include <grpcpp/grpcpp.h>
#include <nats/nats.h>

#include <atomic>
#include <mutex>
#include <optional>
#include <thread>

#include "gmock/gmock.h"
#include "integration/scaler_fixture.h"
#include "jss/core/base/scheduler.h"
#include "jss/nats/connection/nats_connection.h"
#include "support/grpc_probe.h"

namespace jss::testing {
namespace {

using namespace std::chrono_literals;

// A NatsConnection under test, with the observer and scheduler that must outlive it.
struct TestConnection {
  core::NullObserver observer;
  core::ThreadScheduler scheduler;
  std::unique_ptr<nats::NatsConnection> conn;

  // Opens and waits until connected; otherwise a test failure and no `conn`.
  explicit TestConnection(nats::NatsConnectionOptions options) {
    auto opened = nats::NatsConnection::Open(std::move(options), observer, logging::Logger::Null(),
                                             scheduler);
    if (!opened.ok()) {
      ADD_FAILURE() << opened.status().ToString();
      return;
    }
    conn = std::move(*opened);
    if (!WaitFor([&] { return conn->IsConnected(); })) ADD_FAILURE() << "never connected";
  }
};

nats::NatsConnectionOptions Pinging(const std::string& url, std::chrono::milliseconds ping,
                                    std::chrono::milliseconds pong) {
  nats::NatsConnectionOptions options;
  options.servers = {url};
  options.ping_interval = ping;
  options.pong_timeout = pong;
  return options;
}

// Sends one request with `deadline` and waits (WaitFor's bound) for its answer;
// INTERNAL "no answer" if none came. The answer lives in shared state, so a
// reply arriving after the wait touches nothing freed.
core::StatusOr<std::string> Ask(nats::NatsConnection& conn, const std::string& subject,
                                std::chrono::milliseconds deadline) {
  struct Answer {
    std::mutex mu;
    std::optional<core::StatusOr<std::string>> value;
  };
  auto answer = std::make_shared<Answer>();
  conn.Request(subject, std::chrono::steady_clock::now() + deadline,
               [answer](const core::StatusOr<std::string>& reply) {
                 std::lock_guard<std::mutex> lock(answer->mu);
                 answer->value = reply;
               });
  WaitFor([&] {
    std::lock_guard<std::mutex> lock(answer->mu);
    return answer->value.has_value();
  });
  std::lock_guard<std::mutex> lock(answer->mu);
  return answer->value.value_or(core::InternalError("no answer"));
}

TEST(StallingPeerTest, RequestsNeverBlockTheCallerAndTheConnectionReportsStalled) {
  StallingNatsPeer peer;
  nats::NatsConnectionOptions options;
  options.servers = {peer.url()};
  options.write_deadline = 300ms;
  TestConnection tc(options);
  ASSERT_NE(tc.conn, nullptr);
  std::unique_ptr<nats::NatsConnection>& conn = tc.conn;
  EXPECT_FALSE(conn->IsStalled());

  // 200 requests with 64 KiB subjects: 12.5 MiB, far more than the socket
  // buffers between us and a peer that does not read can hold.
  constexpr int kRequests = 200;
  std::atomic<int> returned{0};
  std::atomic<int> answered{0};
  std::atomic<int> answered_ok{0};
  std::thread caller([&] {
    for (int i = 0; i < kRequests; ++i) {
      const std::string subject = "$JS.API.CONSUMER.INFO.S." + std::to_string(i) +
                                  std::string(64 * 1024, 'x');
      conn->Request(subject, std::chrono::steady_clock::now() + 2s,
                    [&](const core::StatusOr<std::string>& reply) {
                      if (reply.ok()) ++answered_ok;
                      ++answered;
                    });
      ++returned;
    }
  });
  const bool caller_free = WaitFor([&] { return returned.load() == kRequests; }, 15s);
  if (!caller_free) {
    // Today's failure mode: the calling thread is stuck in a socket write
    // forever. Leak rather than hang the test binary on join.
    ADD_FAILURE() << "Request() blocked the calling thread on a peer that stopped reading ("
                  << returned.load() << "/" << kRequests << " returned)";
    caller.detach();
    (void)conn.release();
    return;
  }
  caller.join();
  EXPECT_TRUE(WaitFor([&] { return conn->IsStalled(); }))
      << "a peer that stopped reading was not reported";
  // Every caller hears back (by its deadline at the latest), never with a reply.
  EXPECT_TRUE(WaitFor([&] { return answered.load() == kRequests; }));
  EXPECT_EQ(answered_ok.load(), 0);

  std::atomic<bool> shut{false};
  std::thread closer([&] {
    conn->Shutdown();
    shut = true;
  });
  if (!WaitFor([&] { return shut.load(); }, 15s)) {
    ADD_FAILURE() << "Shutdown() did not return with a peer that stopped reading";
    closer.detach();
    (void)conn.release();
    return;
  }
  closer.join();
}

// The push wake-up subscribes from the hub (under its lock) and from gRPC
// threads: with cnats writing SUB on the calling thread, a peer that stopped
// reading held that thread until the write deadline, and the hub's lock with
// it. SUB now goes through the I/O queue like every request.
TEST(StallingPeerTest, SubscribeReturnsAtOnceWhileTheSocketWriteIsBlocked) {
  StallingNatsPeer peer;
  nats::NatsConnectionOptions options;
  options.servers = {peer.url()};
  // Long enough that a blocked write is still blocked when Subscribe is
  // called; IsStalled() says so once it has lasted half of this.
  options.write_deadline = 10s;
  TestConnection tc(options);
  ASSERT_NE(tc.conn, nullptr);
  std::unique_ptr<nats::NatsConnection>& conn = tc.conn;
  // 200 requests of 64 KiB: far more than the socket buffers hold, so the
  // I/O thread blocks in a write (holding cnats' connection lock).
  std::atomic<int> answered{0};
  for (int i = 0; i < 200; ++i) {
    conn->Request("$JS.API.CONSUMER.INFO.S." + std::to_string(i) + std::string(64 * 1024, 'x'),
                  std::chrono::steady_clock::now() + 30s,
                  [&](const core::StatusOr<std::string>&) { ++answered; });
  }
  ASSERT_TRUE(WaitFor([&] { return conn->IsStalled(); })) << "the write never blocked";
  std::atomic<int> subscribed{0};
  std::thread caller([&] {
    for (int i = 0; i < 100; ++i) {
      auto sub = conn->Subscribe("orders." + std::to_string(i), [] {}, 1);
      if (sub.ok()) ++subscribed;  // and dropped (UNSUB queued) right away
    }
  });
  // Before the blocked write's deadline (5 s from the IsStalled verdict at
  // the earliest): a Subscribe waiting for cnats' lock could not return.
  const bool returned = WaitFor([&] { return subscribed.load() == 100; }, 4s);
  EXPECT_TRUE(returned) << "Subscribe() blocked its caller on a peer that stopped reading ("
                        << subscribed.load() << "/100 returned)";
  caller.join();  // ends at the write deadline at the latest
  std::atomic<bool> shut{false};
  std::thread closer([&] {
    conn->Shutdown();
    shut = true;
  });
  if (!WaitFor([&] { return shut.load(); }, 15s)) {
    ADD_FAILURE() << "Shutdown() did not return with a peer that stopped reading";
    closer.detach();
    (void)conn.release();
    return;
  }
  closer.join();
  EXPECT_EQ(answered.load(), 200) << "every request hears back";
}

// A peer that answers the handshake and then goes silent, while every write
// still fits in the socket buffers: nothing blocks, only PONGs and replies
// stop coming.
TEST(SilentPeerTest, AnUnansweredPingMarksTheConnectionUnresponsiveAndReadsFailAtOnce) {
  StallingNatsPeer peer;
  TestConnection tc(Pinging(peer.url(), 100ms, 200ms));
  ASSERT_NE(tc.conn, nullptr);
  nats::NatsConnection& conn = *tc.conn;

  ASSERT_TRUE(WaitFor([&] { return conn.IsUnresponsive(); }))
      << "a peer that stopped answering PINGs was not noticed";
  EXPECT_TRUE(conn.IsStalled()) << "an unresponsive peer must make the scaler not ready";

  // A read with a long deadline is failed by the known silence, not left to
  // run into its deadline (which would outlast Ask's wait: "no answer").
  const auto answer = Ask(conn, "$JS.API.CONSUMER.INFO.S.C", 120s);
  ASSERT_FALSE(answer.ok()) << "a silent peer produced a value: " << *answer;
  EXPECT_EQ(answer.status().code(), core::StatusCode::kUnavailable) << answer.status().ToString();
  EXPECT_THAT(answer.status().message(), ::testing::HasSubstr("is not answering"));
}

TEST(SilentPeerTest, ALiveServerAnswersPingsAndStaysResponsive) {
  std::string error;
  auto nats = NatsServerProcess::Start({}, &error);
  ASSERT_NE(nats, nullptr) << error;
  TestConnection tc(Pinging(nats->url(), 50ms, 2s));
  ASSERT_NE(tc.conn, nullptr);
  // Quiet for several ping intervals: each one sends a PING that is answered.
  ASSERT_TRUE(WaitFor([&] { return tc.conn->pongs() >= 3; }));
  EXPECT_FALSE(tc.conn->IsUnresponsive());
  EXPECT_FALSE(tc.conn->IsStalled());
}

TEST(SilentPeerTest, AServerThatAnswersAgainIsUsedAgain) {
  std::string error;
  auto nats = NatsServerProcess::Start({}, &error);
  ASSERT_NE(nats, nullptr) << error;
  TestConnection tc(Pinging(nats->url(), 100ms, 200ms));
  ASSERT_NE(tc.conn, nullptr);
  nats::NatsConnection& conn = *tc.conn;

  nats->Pause();  // the socket stays open, nothing is answered
  const bool noticed = WaitFor([&] { return conn.IsUnresponsive(); });
  nats->Resume();
  ASSERT_TRUE(noticed) << "a frozen server was not noticed";
  EXPECT_TRUE(WaitFor([&] { return !conn.IsUnresponsive() && !conn.IsStalled(); }))
      << "the server answers again but the connection stays unresponsive";
  // Reads go to NATS again (a JetStream error from the server, not a local refusal).
  core::Status last = core::OkStatus();
  ASSERT_TRUE(WaitFor([&] {
    const auto answer = Ask(conn, "$JS.API.CONSUMER.INFO.NOPE.C", 2s);
    last = answer.status();
    return answer.ok();
  })) << last.ToString();
}

class StallingPeerScalerTest : public ScalerFixture {};

TEST_F(StallingPeerScalerTest, ASilentPeerTurnsReadinessAndGrpcHealthOffAndReadsUnavailable) {
  StallingNatsPeer peer;
  StartScaler([&](app::Config& c) {
    c.connections = {{"default", {peer.url()}, false}};
    c.request_timeout = 300ms;  // also the PONG timeout
    c.nats_ping_interval = 100ms;
  });
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->grpc_port()),
                                     grpc::InsecureChannelCredentials());
  EXPECT_TRUE(WaitFor([&] { return HttpGet(server_->metrics_port(), "/readyz").status == 503; }))
      << "a NATS peer that stopped answering left the scaler ready";
  EXPECT_TRUE(WaitFor([&] {
    auto health = CheckHealth(channel, "externalscaler.ExternalScaler");
    return health.ok() && *health == HealthStatus::kNotServing;
  })) << "the gRPC health service still says SERVING";
  auto active = client_->IsActive(Md("S", "C"));
  ASSERT_FALSE(active.ok()) << "a silent peer produced IsActive=" << *active;
  EXPECT_EQ(active.status().code(), core::StatusCode::kUnavailable);
  EXPECT_THAT(active.status().message(), ::testing::HasSubstr("is not answering"));
  // /healthz stays 200: restarting the pod would not make the peer answer.
  EXPECT_EQ(HttpGet(server_->metrics_port(), "/healthz").status, 200);
}

// Issue 21 item 2: does a call that needs no NATS wait behind reads that do? Asked while
// 200 reads wait on a frozen nats-server (--request-timeout 30s: none of them ends for
// 30 s), GetMetricSpec is answered before any of them ends. Ordering, not speed: under
// TSan, GetMetricSpec right after 2,000 reads END came ~5 s late, behind TSan's one lock
// for (suppressed) race reports that every gRPC thread finishing those calls takes
// (stacks in the note), not behind NATS.
TEST_F(StallingPeerScalerTest, GetMetricSpecIsAnsweredWhileReadsWaitOnNats) {
  StartScaler([&](app::Config& c) { c.request_timeout = 30s; });
  ASSERT_TRUE(WaitFor([&] { return HttpGet(server_->metrics_port(), "/readyz").status == 200; }));
  const std::string sent = "jetstream_scaler_nats_requests_total{connection=\"default\"}";
  // After the connection's $JS.API.INFO probe, which is a request too.
  ASSERT_TRUE(WaitFor([&] {
    return ScrapeValue(HttpGet(server_->metrics_port(), "/metrics").body, sent) >= 1;
  }));
  const double before = ScrapeValue(HttpGet(server_->metrics_port(), "/metrics").body, sent);
  nats_->Pause();

  auto stub = externalscaler::ExternalScaler::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(server_->grpc_port()), grpc::InsecureChannelCredentials()));
  grpc::CompletionQueue cq;
  struct Call {
    grpc::ClientContext ctx;
    externalscaler::IsActiveResponse response;
    grpc::Status status;
    std::unique_ptr<grpc::ClientAsyncResponseReader<externalscaler::IsActiveResponse>> reader;
  };
  constexpr int kCalls = 200;
  std::vector<std::unique_ptr<Call>> calls;
  for (int i = 0; i < kCalls; ++i) {
    auto call = std::make_unique<Call>();
    call->ctx.set_deadline(std::chrono::system_clock::now() + 60s);
    call->reader = stub->AsyncIsActive(
        &call->ctx,
        tools::MakeRef(Md("S" + std::to_string(i), "C" + std::to_string(i)), "so", "ns"), &cq);
    call->reader->Finish(&call->response, &call->status, call.get());
    calls.push_back(std::move(call));
  }
  // Every read was written to NATS and waits for its reply.
  ASSERT_TRUE(WaitFor([&] {
    return ScrapeValue(HttpGet(server_->metrics_port(), "/metrics").body, sent) >=
           before + kCalls;
  }, 30s));

  tools::KedaClient patient("127.0.0.1:" + std::to_string(server_->grpc_port()),
                            std::chrono::milliseconds(30000));
  auto spec = patient.GetMetricSpec(Md("ANY", "w"));
  EXPECT_TRUE(spec.ok()) << spec.status().ToString();
  void* tag = nullptr;
  bool ok = false;
  EXPECT_EQ(cq.AsyncNext(&tag, &ok, std::chrono::system_clock::now()),
            grpc::CompletionQueue::NextStatus::TIMEOUT)
      << "a read waiting on NATS ended before GetMetricSpec was answered";

  nats_->Resume();
  for (auto& call : calls) call->ctx.TryCancel();
  for (int finished = 0; finished < kCalls && cq.Next(&tag, &ok);) ++finished;
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
}

TEST_F(StallingPeerScalerTest, GrpcStaysResponsiveReadinessDropsAndStopDrains) {
  StallingNatsPeer peer;
  StartScaler([&](app::Config& c) {
    c.connections = {{"default", {peer.url()}, false}};
    c.request_timeout = 1s;
  });
  // The peer looks healthy until it is asked for something.
  ASSERT_TRUE(WaitFor([&] { return HttpGet(server_->metrics_port(), "/readyz").status == 200; }));

  // 2,000 concurrent reads of distinct long names (~1 MiB of requests), the
  // way many ScaledObjects would poll at once.
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->grpc_port()),
                                     grpc::InsecureChannelCredentials());
  auto stub = externalscaler::ExternalScaler::NewStub(channel);
  grpc::CompletionQueue cq;
  struct Call {
    grpc::ClientContext ctx;
    externalscaler::IsActiveResponse response;
    grpc::Status status;
    std::unique_ptr<grpc::ClientAsyncResponseReader<externalscaler::IsActiveResponse>> reader;
  };
  constexpr int kCalls = 2000;
  std::vector<std::unique_ptr<Call>> calls;
  for (int i = 0; i < kCalls; ++i) {
    auto call = std::make_unique<Call>();
    // Far beyond the scaler's own 1 s read deadline, so every call ends with the scaler's
    // answer: the loop below then returns only once the scaler has finished all 2,000. With
    // 3 s, under TSan the client gave up first while the scaler was still answering, and
    // GetMetricSpec's own 3 s ran out behind that CPU backlog (DEADLINE_EXCEEDED, issue 21
    // item 2), not behind any NATS wait: its handler touches no NATS and no lock a read holds.
    call->ctx.set_deadline(std::chrono::system_clock::now() + 60s);
    const std::string stream = "S" + std::to_string(i) + std::string(250, 's');
    const std::string consumer = "C" + std::to_string(i) + std::string(250, 'c');
    call->reader = stub->AsyncIsActive(&call->ctx, tools::MakeRef(Md(stream, consumer), "so", "ns"),
                                       &cq);
    call->reader->Finish(&call->response, &call->status, call.get());
    calls.push_back(std::move(call));
  }
  int finished = 0;
  int active_answers = 0;
  int client_deadlines = 0;
  void* tag = nullptr;
  bool ok = false;
  while (finished < kCalls && cq.Next(&tag, &ok)) {
    ++finished;
    const grpc::Status& status = static_cast<Call*>(tag)->status;
    if (status.ok()) ++active_answers;
    if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) ++client_deadlines;
  }
  EXPECT_EQ(active_answers, 0) << "a peer that never answers produced an IsActive value";
  EXPECT_EQ(client_deadlines, 0) << "the scaler let KEDA's own deadline pass without an answer";

  // GetMetricSpec needs no NATS: it must still be answered while the peer stays stalled.
  // Under TSan on a loaded machine (CI runs two test processes at once) its answer came up
  // to ~5 s after the 2,000 calls ended, past KedaClient's 3 s default (issue 21 item 2; a
  // 60 s client then got it, and the plain build answers at once), so the wait is KEDA's
  // own order of magnitude, not 3 s: the subject is "answered", not how fast.
  tools::KedaClient patient("127.0.0.1:" + std::to_string(server_->grpc_port()),
                            std::chrono::milliseconds(30000));
  auto spec = patient.GetMetricSpec(Md("ANY", "w"));
  EXPECT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_TRUE(WaitFor([&] { return HttpGet(server_->metrics_port(), "/readyz").status == 503; }))
      << "a NATS peer that stopped reading left the scaler ready";

  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    server_->Stop();
    stopped = true;
  });
  if (!WaitFor([&] { return stopped.load(); }, 20s)) {
    ADD_FAILURE() << "the scaler did not drain with a NATS peer that stopped reading";
    stopper.detach();
    (void)server_.release();
    return;
  }
  stopper.join();
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
}

}  // namespace
}  // namespace jss::testing

namespace jss::testing {
namespace {

using namespace std::chrono_literals;

// A cnats client on the test's nats-server that answers requests on
// `hostile.>` with whatever the test says, and remembers reply subjects.
class Responder {
 public:
  explicit Responder(const std::string& url) {
    natsConnection_ConnectTo(&conn_, url.c_str());
    natsConnection_Subscribe(&sub_, conn_, "hostile.>", &Responder::OnRequest, this);
    natsConnection_Flush(conn_);
  }
  ~Responder() {
    natsSubscription_Destroy(sub_);
    natsConnection_Destroy(conn_);
  }
  void set_body(std::string body) {
    std::lock_guard<std::mutex> lock(mu_);
    body_ = std::move(body);
  }
  std::string last_reply_subject() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_reply_;
  }
  void Publish(const std::string& subject, const std::string& body) {
    natsConnection_Publish(conn_, subject.c_str(), body.data(), static_cast<int>(body.size()));
    natsConnection_Flush(conn_);
  }

 private:
  static void OnRequest(natsConnection* nc, natsSubscription*, natsMsg* msg, void* self) {
    auto* r = static_cast<Responder*>(self);
    std::string body;
    {
      std::lock_guard<std::mutex> lock(r->mu_);
      r->last_reply_ = natsMsg_GetReply(msg) ? natsMsg_GetReply(msg) : "";
      body = r->body_;
    }
    if (!body.empty() && natsMsg_GetReply(msg) != nullptr) {
      natsConnection_Publish(nc, natsMsg_GetReply(msg), body.data(), static_cast<int>(body.size()));
    }
    natsMsg_Destroy(msg);
  }

  natsConnection* conn_ = nullptr;
  natsSubscription* sub_ = nullptr;
  std::mutex mu_;
  std::string body_;
  std::string last_reply_;
};

class HostileReplyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    nats_ = NatsServerProcess::Start({}, &error);
    ASSERT_NE(nats_, nullptr) << error;
    nats::NatsConnectionOptions options;
    options.servers = {nats_->url()};
    connection_ = std::make_unique<TestConnection>(options);
    ASSERT_NE(connection_->conn, nullptr);
    responder_ = std::make_unique<Responder>(nats_->url());
  }

  core::StatusOr<std::string> Ask(const std::string& subject,
                                  std::chrono::milliseconds deadline = 2000ms) {
    return testing::Ask(*connection_->conn, subject, deadline);
  }

  std::unique_ptr<NatsServerProcess> nats_;
  std::unique_ptr<TestConnection> connection_;
  std::unique_ptr<Responder> responder_;
};

TEST_F(HostileReplyTest, AnOversizedReplyFailsTheRequestWithoutBeingPassedOn) {
  responder_->set_body("{\"num_pending\":1,\"num_ack_pending\":0,\"pad\":\"" +
                       std::string(100 * 1024, 'x') + "\"}");
  auto reply = Ask("hostile.big");
  ASSERT_FALSE(reply.ok()) << "a " << reply->size() << "-byte reply was passed on";
  EXPECT_EQ(reply.status().code(), core::StatusCode::kUnavailable);
  EXPECT_THAT(reply.status().message(), ::testing::HasSubstr("exceeds the 65536-byte limit"));
  responder_->set_body("{\"num_pending\":1,\"num_ack_pending\":0}");
  EXPECT_TRUE(Ask("hostile.small").ok());
}

TEST_F(HostileReplyTest, ReplySubjectsCannotBeGuessedFromAnEarlierOne) {
  responder_->set_body("{}");
  ASSERT_TRUE(Ask("hostile.first").ok());
  const std::string seen = responder_->last_reply_subject();
  const std::string prefix = seen.substr(0, seen.rfind('.') + 1);
  ASSERT_FALSE(prefix.empty()) << seen;

  // The next request is not answered by its responder; a forger who saw one
  // reply subject publishes to the likely next ones instead.
  responder_->set_body("");
  std::mutex mu;
  std::optional<core::StatusOr<std::string>> answer;
  connection_->conn->Request("hostile.second", std::chrono::steady_clock::now() + 1500ms,
                             [&](const core::StatusOr<std::string>& reply) {
                               std::lock_guard<std::mutex> lock(mu);
                               answer = reply;
                             });
  ASSERT_TRUE(WaitFor([&] { return responder_->last_reply_subject() != seen; }));
  const std::string tail = seen.substr(prefix.size());
  const std::string id_text = tail.substr(0, tail.find('_'));
  const uint64_t next = std::stoull(id_text) + 1;
  for (uint64_t id = next - 1; id <= next + 3; ++id) {
    responder_->Publish(prefix + std::to_string(id), "{\"forged\":true}");
    responder_->Publish(prefix + std::to_string(id) + "_0000000000000000", "{\"forged\":true}");
  }
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard<std::mutex> lock(mu);
    return answer.has_value();
  }));
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_FALSE(answer->ok()) << "a forged reply was accepted: " << **answer;
}

}  // namespace
}  // namespace jss::testing
