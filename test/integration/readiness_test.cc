// Readiness and the GOAWAY swap follow the NATS connections a replica can still serve
// (issue 21 item 4): with `default` healthy and `eu` down, the replica stays ready by default,
// says which connection is down, and never ends streams or cuts calls on `default`.
#include <grpcpp/grpcpp.h>

#include "gmock/gmock.h"
#include "externalscaler.grpc.pb.h"
#include "integration/activity_stream.h"
#include "integration/scaler_fixture.h"
#include "support/grpc_probe.h"

namespace jss::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kScalerService = "externalscaler.ExternalScaler";

class ReadinessTest : public ScalerFixture {
 protected:
  // A second real nats-server for the `eu` connection, and the scaler on both.
  void StartWithEu(const std::string& ready_when) {
    std::string error;
    eu_ = NatsServerProcess::Start({}, &error);
    ASSERT_NE(eu_, nullptr) << error;
    CreateStream("R", "r.>", "w");
    ASSERT_TRUE(admin_->Publish("r.x", 3).ok());
    admin_.reset();  // would reconnect noisily if nats_ went down
    StartScaler([&](app::Config& c) {
      c.connections = {{"default", {nats_->url()}, false}, {"eu", {eu_->url()}, true}};
      c.ready_when = ready_when;
      c.grpc_max_connection_age = 0ms;       // only the NATS-down path lets connections go
      c.grpc_goaway_after_nats_down = 1s;  // the swap would come quickly
    });
    ASSERT_TRUE(WaitFor([&] { return Readyz() == 200; }));
  }
  int Readyz() { return HttpGet(server_->metrics_port(), "/readyz").status; }
  bool EuDown() {
    return ScrapeValue(Metrics(), "jetstream_scaler_nats_connection_up{connection=\"eu\"}") == 0;
  }
  bool HealthIs(const std::shared_ptr<grpc::Channel>& channel, HealthStatus want) {
    auto health = CheckHealth(channel, kScalerService);
    return health.ok() && *health == want;
  }

  std::unique_ptr<NatsServerProcess> eu_;
};

TEST_F(ReadinessTest, OneConnectionDownLeavesTheReplicaReadyAndItsCallsAndStreamsAlone) {
  StartWithEu("any");
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->grpc_port()),
                                     grpc::InsecureChannelCredentials());
  auto stub = externalscaler::ExternalScaler::NewStub(channel);
  ActivityStream stream(*stub, Md("R", "w"));
  ASSERT_EQ(stream.Next(), std::optional<bool>(true));

  eu_->Kill();
  ASSERT_TRUE(WaitFor([&] { return EuDown(); })) << Metrics();
  EXPECT_EQ(ScrapeValue(Metrics(), "jetstream_scaler_nats_connection_up{connection=\"default\"}"),
            1);
  EXPECT_EQ(Readyz(), 200) << "one connection down took the replica out of the Service";
  EXPECT_TRUE(HealthIs(channel, HealthStatus::kServing));

  // Three times --grpc-goaway-after-nats-down of calls on `default`: a swap would end the
  // stream and cut or refuse calls on the healthy connection. Every call must succeed.
  const auto until = std::chrono::steady_clock::now() + 3s;
  int calls = 0;
  while (std::chrono::steady_clock::now() < until && calls < 10000) {
    auto value = client_->GetMetrics(Md("R", "w"), "");
    ASSERT_TRUE(value.ok()) << "call " << calls << ": " << value.status().ToString();
    EXPECT_EQ(value->value, 3);
    ++calls;
  }
  EXPECT_FALSE(stream.Ended(0ms).has_value()) << "the swap ended a stream on `default`";
  EXPECT_EQ(Readyz(), 200);
  // The lost connection's triggers get a typed error naming it.
  auto eu_read = client_->GetMetrics(Md("R", "w", {{"connection", "eu"}}), "");
  ASSERT_FALSE(eu_read.ok());
  EXPECT_EQ(eu_read.status().code(), core::StatusCode::kUnavailable);
  EXPECT_THAT(eu_read.status().message(), ::testing::HasSubstr("\"eu\""));

  // Every connection down: not ready, NOT_SERVING, and the stream is let go (OK).
  nats_->Kill();
  EXPECT_TRUE(WaitFor([&] { return Readyz() == 503; }));
  EXPECT_TRUE(WaitFor([&] { return HealthIs(channel, HealthStatus::kNotServing); }));
  auto ended = stream.Ended(30s);
  ASSERT_TRUE(ended.has_value()) << "no swap once every connection was down";
  EXPECT_TRUE(ended->ok()) << ended->error_code() << " " << ended->error_message();
}

TEST_F(ReadinessTest, ReadyWhenAllLeavesOnAnyConnectionDown) {
  StartWithEu("all");
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->grpc_port()),
                                     grpc::InsecureChannelCredentials());
  ASSERT_TRUE(WaitFor([&] { return HealthIs(channel, HealthStatus::kServing); }));
  eu_->Kill();
  EXPECT_TRUE(WaitFor([&] { return Readyz() == 503; }));
  EXPECT_TRUE(WaitFor([&] { return HealthIs(channel, HealthStatus::kNotServing); }));
  // `default` still answers while the replica is out of the Service.
  auto value = client_->GetMetrics(Md("R", "w"), "");
  ASSERT_TRUE(value.ok()) << value.status().ToString();
  EXPECT_EQ(value->value, 3);
}

}  // namespace
}  // namespace jss::testing
