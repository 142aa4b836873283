// How KEDA's one long-lived gRPC connection is served: health that follows
// NATS, reflection, connections recycled with streams ending OK, and many
// streams sharing the connection with unary calls.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "gmock/gmock.h"
#include "integration/activity_stream.h"
#include "integration/scaler_fixture.h"
#include "support/grpc_probe.h"

namespace jss::testing {
namespace {

using ::testing::Contains;

constexpr const char* kScalerService = "externalscaler.ExternalScaler";

class KedaConnectionTest : public ScalerFixture {
 protected:
  std::shared_ptr<grpc::Channel> Channel() {
    return grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->grpc_port()),
                               grpc::InsecureChannelCredentials());
  }

  static bool HealthIs(const std::shared_ptr<grpc::Channel>& channel, const std::string& service,
                       HealthStatus want) {
    auto got = CheckHealth(channel, service);
    return got.ok() && *got == want;
  }
};

TEST_F(KedaConnectionTest, HealthOfTheScalerServiceFollowsNats) {
  admin_.reset();  // the admin connection would otherwise reconnect noisily
  StartScaler();
  auto channel = Channel();
  ASSERT_TRUE(WaitFor([&] { return HealthIs(channel, kScalerService, HealthStatus::kServing); }));
  EXPECT_TRUE(HealthIs(channel, "", HealthStatus::kServing));

  nats_->Kill();
  EXPECT_TRUE(
      WaitFor([&] { return HealthIs(channel, kScalerService, HealthStatus::kNotServing); }));
  // Liveness is the process, not NATS: a restart would not bring NATS back.
  EXPECT_TRUE(HealthIs(channel, "", HealthStatus::kServing));
  EXPECT_EQ(HttpGet(server_->metrics_port(), "/readyz").status, 503);

  ASSERT_TRUE(nats_->Restart());
  EXPECT_TRUE(WaitFor([&] { return HealthIs(channel, kScalerService, HealthStatus::kServing); }));
  EXPECT_EQ(HttpGet(server_->metrics_port(), "/readyz").status, 200);
}

TEST_F(KedaConnectionTest, UnknownHealthServiceIsNotFound) {
  StartScaler();
  auto got = CheckHealth(Channel(), "no.such.Service");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), core::StatusCode::kNotFound);
}

TEST_F(KedaConnectionTest, ReflectionListsTheServices) {
  StartScaler();
  auto services = ListServicesByReflection(Channel());
  ASSERT_TRUE(services.ok()) << services.status().ToString();
  EXPECT_THAT(*services, Contains(kScalerService));
  EXPECT_THAT(*services, Contains("grpc.health.v1.Health"));
}

// Counts how often the channel left READY (each is a connection the server
// recycled or lost).
class ReconnectCounter {
 public:
  explicit ReconnectCounter(std::shared_ptr<grpc::Channel> channel)
      : channel_(std::move(channel)), thread_([this] { Loop(); }) {}
  ~ReconnectCounter() {
    stop_ = true;
    thread_.join();
  }
  int left_ready() const { return left_ready_.load(); }

 private:
  void Loop() {
    auto state = channel_->GetState(false);
    while (!stop_) {
      if (!channel_->WaitForStateChange(
              state, std::chrono::system_clock::now() + std::chrono::milliseconds(100))) {
        continue;
      }
      if (state == GRPC_CHANNEL_READY) ++left_ready_;
      state = channel_->GetState(false);
    }
  }

  std::shared_ptr<grpc::Channel> channel_;
  std::atomic<bool> stop_{false};
  std::atomic<int> left_ready_{0};
  std::thread thread_;
};

TEST_F(KedaConnectionTest, AgedConnectionEndsStreamsWithOkAndUnaryCallsCarryOn) {
  CreateStream("AGE", "age.>", "w");
  ASSERT_TRUE(admin_->Publish("age.x", 3).ok());
  StartScaler([](app::Config& c) { c.grpc_max_connection_age = std::chrono::seconds(2); });
  auto channel = Channel();
  auto stub = externalscaler::ExternalScaler::NewStub(channel);
  const auto md = Md("AGE", "w");

  ActivityStream stream(*stub, md);
  ASSERT_EQ(stream.Next(), std::optional<bool>(true));
  // KEDA resets its back-off only on a clean end: the stream must end OK,
  // not be cut with UNAVAILABLE when the connection goes.
  auto ended = stream.Ended();
  ASSERT_TRUE(ended.has_value());
  EXPECT_TRUE(ended->ok()) << ended->error_code() << " " << ended->error_message();

  // Unary calls on the same channel keep succeeding while the server
  // recycles its connection several times.
  ReconnectCounter reconnects(channel);
  int calls = 0;
  ASSERT_TRUE(WaitFor(
      [&] {
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
        externalscaler::GetMetricsRequest req;
        *req.mutable_scaledobjectref() = tools::MakeRef(md, "so", "apps");
        externalscaler::GetMetricsResponse resp;
        grpc::Status s = stub->GetMetrics(&ctx, req, &resp);
        EXPECT_TRUE(s.ok()) << "call " << calls << ": " << s.error_code() << " "
                            << s.error_message();
        if (s.ok()) {
          EXPECT_EQ(resp.metricvalues(0).metricvalue(), 3);
        }
        ++calls;
        return reconnects.left_ready() >= 2;
      },
      std::chrono::seconds(30)))
      << "the channel left READY " << reconnects.left_ready() << " times in " << calls
      << " calls";
}

// KEDA's one connection stays on a replica that lost NATS (the replica leaving the Service does
// not move an established connection). Past --grpc-goaway-after-nats-down the scaler lets its
// connections go: open streams end OK, the connection gets GOAWAY, and the same channel
// reconnects (in a cluster, through the Service to a ready replica). Repeated while NATS stays
// down; once NATS is back, unary calls on the channel succeed again.
TEST_F(KedaConnectionTest, NatsDownLongerThanTheLimitLetsConnectionsGo) {
  CreateStream("DOWN", "down.>", "w");
  ASSERT_TRUE(admin_->Publish("down.x", 3).ok());
  admin_.reset();  // would reconnect noisily while NATS is down
  StartScaler([](app::Config& c) {
    c.grpc_max_connection_age = std::chrono::milliseconds(0);  // only the NATS-down path
    c.grpc_goaway_after_nats_down = std::chrono::seconds(1);
  });
  auto channel = Channel();
  auto stub = externalscaler::ExternalScaler::NewStub(channel);
  const auto md = Md("DOWN", "w");
  auto get_metrics = [&]() -> std::optional<int64_t> {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
    externalscaler::GetMetricsRequest req;
    *req.mutable_scaledobjectref() = tools::MakeRef(md, "so", "apps");
    externalscaler::GetMetricsResponse resp;
    if (!stub->GetMetrics(&ctx, req, &resp).ok()) return std::nullopt;
    return resp.metricvalues(0).metricvalue();
  };
  ASSERT_EQ(get_metrics(), std::optional<int64_t>(3));
  ActivityStream stream(*stub, md);
  ASSERT_EQ(stream.Next(), std::optional<bool>(true));
  ReconnectCounter reconnects(channel);

  nats_->Kill();
  // The stream ends with OK (KEDA resets its back-off and reopens it), never an error.
  auto ended = stream.Ended(std::chrono::seconds(30));
  ASSERT_TRUE(ended.has_value());
  EXPECT_TRUE(ended->ok()) << ended->error_code() << " " << ended->error_message();
  // The connection is let go, and again on the next connection while NATS stays down; the
  // replacement server answers health (NOT_SERVING: NATS is down) in between.
  bool not_serving_seen = false;
  EXPECT_TRUE(WaitFor(
      [&] {
        not_serving_seen |= HealthIs(channel, kScalerService, HealthStatus::kNotServing);
        return reconnects.left_ready() >= 2 && not_serving_seen;
      },
      std::chrono::seconds(30)))
      << "left READY " << reconnects.left_ready() << " times";

  ASSERT_TRUE(nats_->Restart());
  EXPECT_TRUE(WaitFor([&] { return get_metrics() == std::optional<int64_t>(3); },
                      std::chrono::seconds(30)));
  EXPECT_TRUE(HealthIs(channel, kScalerService, HealthStatus::kServing) ||
              WaitFor([&] { return HealthIs(channel, kScalerService, HealthStatus::kServing); }));
}

// Shutting down while NATS is down and connections are being let go (a replacement gRPC server
// may be starting or the old one draining) ends promptly and cleanly.
TEST_F(KedaConnectionTest, StopWhileLettingConnectionsGoEndsCleanly) {
  admin_.reset();
  StartScaler([](app::Config& c) {
    c.grpc_max_connection_age = std::chrono::milliseconds(0);
    c.grpc_goaway_after_nats_down = std::chrono::seconds(1);
  });
  auto channel = Channel();
  ASSERT_TRUE(WaitFor([&] { return HealthIs(channel, kScalerService, HealthStatus::kServing); }));
  ReconnectCounter reconnects(channel);
  nats_->Kill();
  ASSERT_TRUE(WaitFor(
      [&] {
        HealthIs(channel, "", HealthStatus::kServing);  // reconnects after each GOAWAY
        return reconnects.left_ready() >= 2;
      },
      std::chrono::seconds(30)));
  server_->Stop();
  EXPECT_FALSE(HealthIs(channel, "", HealthStatus::kServing));
}

// A KEDA-shaped StreamIsActive client on the callback API: many of these
// share one channel without a thread each.
class StreamWatcher final : public grpc::ClientReadReactor<externalscaler::IsActiveResponse> {
 public:
  struct Tally {
    std::mutex mu;
    std::condition_variable cv;
    int first_values = 0;
    int ended = 0;
    int ended_ok_or_cancelled = 0;
  };

  StreamWatcher(externalscaler::ExternalScaler::Stub& stub, const externalscaler::ScaledObjectRef& ref,
                Tally& tally)
      : tally_(tally) {
    stub.async()->StreamIsActive(&ctx_, &ref, this);
    StartRead(&msg_);
    StartCall();
  }
  void Cancel() { ctx_.TryCancel(); }

  void OnReadDone(bool ok) override {
    if (!ok) return;
    if (!got_first_) {
      got_first_ = true;
      std::lock_guard<std::mutex> lock(tally_.mu);
      ++tally_.first_values;
      tally_.cv.notify_all();
    }
    StartRead(&msg_);
  }
  void OnDone(const grpc::Status& s) override {
    std::lock_guard<std::mutex> lock(tally_.mu);
    ++tally_.ended;
    if (s.ok() || s.error_code() == grpc::StatusCode::CANCELLED) ++tally_.ended_ok_or_cancelled;
    tally_.cv.notify_all();
  }

 private:
  Tally& tally_;
  grpc::ClientContext ctx_;
  externalscaler::IsActiveResponse msg_;
  bool got_first_ = false;
};

TEST_F(KedaConnectionTest, ThousandStreamsAndUnaryCallsShareOneChannel) {
  constexpr int kConsumers = 10;
  constexpr int kStreamsPerConsumer = 110;
  constexpr int kStreams = kConsumers * kStreamsPerConsumer;
  ASSERT_TRUE(admin_->AddStream({"MANY", {"many.>"}}).ok());
  for (int c = 0; c < kConsumers; ++c) {
    ASSERT_TRUE(admin_->AddConsumer({"MANY", "c" + std::to_string(c), ""}).ok());
  }
  ASSERT_TRUE(admin_->Publish("many.x", 2).ok());
  StartScaler();
  auto channel = Channel();
  auto stub = externalscaler::ExternalScaler::NewStub(channel);

  StreamWatcher::Tally tally;
  std::vector<std::unique_ptr<StreamWatcher>> watchers;
  // Whatever assertion ends the test, no reactor is destroyed mid-call.
  struct CancelAllOnExit {
    std::vector<std::unique_ptr<StreamWatcher>>& watchers;
    StreamWatcher::Tally& tally;
    ~CancelAllOnExit() {
      for (auto& w : watchers) w->Cancel();
      std::unique_lock<std::mutex> lock(tally.mu);
      tally.cv.wait_for(lock, std::chrono::seconds(30),
                        [&] { return tally.ended == static_cast<int>(watchers.size()); });
    }
  } cancel_all_on_exit{watchers, tally};
  for (int i = 0; i < kStreams; ++i) {
    const auto ref = tools::MakeRef(Md("MANY", "c" + std::to_string(i % kConsumers)),
                                    "so-" + std::to_string(i), "apps");
    watchers.push_back(std::make_unique<StreamWatcher>(*stub, ref, tally));
  }
  {
    std::unique_lock<std::mutex> lock(tally.mu);
    ASSERT_TRUE(tally.cv.wait_for(lock, std::chrono::seconds(60),
                                  [&] { return tally.first_values + tally.ended == kStreams; }));
    ASSERT_EQ(tally.first_values, kStreams) << tally.ended << " streams ended early";
  }
  // Every stream is open; KEDA's unary polls on the same channel are not
  // queued behind them (no max-concurrent-streams limit in the way).
  for (int i = 0; i < 50; ++i) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
    externalscaler::GetMetricsRequest req;
    *req.mutable_scaledobjectref() =
        tools::MakeRef(Md("MANY", "c" + std::to_string(i % kConsumers)), "poll", "apps");
    externalscaler::GetMetricsResponse resp;
    grpc::Status s = stub->GetMetrics(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << "call " << i << ": " << s.error_code() << " " << s.error_message();
    EXPECT_EQ(resp.metricvalues(0).metricvalue(), 2);
  }
  {
    std::lock_guard<std::mutex> lock(tally.mu);
    EXPECT_EQ(tally.ended, 0) << "streams ended while unary calls ran";
  }
  for (auto& w : watchers) w->Cancel();
  std::unique_lock<std::mutex> lock(tally.mu);
  ASSERT_TRUE(tally.cv.wait_for(lock, std::chrono::seconds(30),
                                [&] { return tally.ended == kStreams; }));
  EXPECT_EQ(tally.ended_ok_or_cancelled, kStreams);
}

}  // namespace
}  // namespace jss::testing
