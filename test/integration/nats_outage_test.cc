// Outages: NATS killed and restarted, NATS frozen, NATS that never speaks.
// In every case the scaler answers UNAVAILABLE by the deadline — never a value.
#include "gmock/gmock.h"
#include "integration/scaler_fixture.h"

namespace jss::testing {
namespace {

using ::testing::HasSubstr;

class NatsOutageTest : public ScalerFixture {};

TEST_F(NatsOutageTest, KilledServerGivesUnavailableThenRecoversOnRestart) {
  CreateStream("DUR", "dur.>", "w");
  ASSERT_TRUE(admin_->Publish("dur.x", 8).ok());
  admin_.reset();  // the admin connection would otherwise reconnect noisily
  StartScaler();
  auto md = Md("DUR", "w");
  ASSERT_EQ(client_->GetMetrics(md, "")->value, 8);

  nats_->Kill();
  for (int i = 0; i < 20; ++i) {
    auto value = client_->GetMetrics(md, "");
    ASSERT_FALSE(value.ok()) << "got a value " << value->value << " while NATS was down";
    EXPECT_EQ(value.status().code(), core::StatusCode::kUnavailable) << value.status().ToString();
    auto active = client_->IsActive(md);
    ASSERT_FALSE(active.ok()) << "got IsActive while NATS was down";
    EXPECT_EQ(active.status().code(), core::StatusCode::kUnavailable);
  }
  EXPECT_EQ(HttpGet(server_->metrics_port(), "/readyz").status, 503);

  ASSERT_TRUE(nats_->Restart());
  // File storage survives the restart, so the same lag comes back.
  EXPECT_TRUE(WaitFor([&] {
    auto v = client_->GetMetrics(md, "");
    return v.ok() && v->value == 8;
  }));
  EXPECT_EQ(HttpGet(server_->metrics_port(), "/readyz").status, 200);
  EXPECT_GE(ScrapeValue(Metrics(), "jetstream_scaler_nats_reconnects_total{connection=\"default\"}"), 1);
}

TEST_F(NatsOutageTest, FrozenServerFailsAtTheRequestTimeout) {
  CreateStream("FRZ", "frz.>", "w");
  admin_.reset();
  StartScaler([](app::Config& c) { c.request_timeout = std::chrono::milliseconds(300); });
  auto md = Md("FRZ", "w");
  ASSERT_TRUE(client_->GetMetrics(md, "").ok());
  nats_->Pause();
  // The client allows 3 s; the scaler must answer with its own typed error
  // well before that, not leave KEDA to time out.
  auto value = client_->GetMetrics(md, "");
  nats_->Resume();
  ASSERT_FALSE(value.ok());
  EXPECT_EQ(value.status().code(), core::StatusCode::kUnavailable) << value.status().ToString();
  EXPECT_THAT(value.status().message(), HasSubstr("did not answer within the request deadline"));
}

TEST_F(NatsOutageTest, KedaDeadlineShorterThanRequestTimeoutIsHonoured) {
  CreateStream("DL", "dl.>", "w");
  admin_.reset();
  StartScaler([](app::Config& c) { c.request_timeout = std::chrono::seconds(30); });
  tools::KedaClient impatient("127.0.0.1:" + std::to_string(server_->grpc_port()),
                              std::chrono::milliseconds(800));
  ASSERT_TRUE(impatient.GetMetrics(Md("DL", "w"), "").ok());
  nats_->Pause();
  auto value = impatient.GetMetrics(Md("DL", "w"), "");
  nats_->Resume();
  ASSERT_FALSE(value.ok());
  // UNAVAILABLE (our answer) rather than DEADLINE_EXCEEDED (the client
  // giving up) shows the scaler bounded the read by KEDA's deadline.
  EXPECT_EQ(value.status().code(), core::StatusCode::kUnavailable) << value.status().ToString();
}

TEST_F(NatsOutageTest, ServerThatNeverSpeaksIsUnavailableAndNotReady) {
  SilentTcpServer silent;
  StartScaler([&](app::Config& c) {
    c.connections = {{"default", {"nats://127.0.0.1:" + std::to_string(silent.port())}, false}};
  });
  auto value = client_->GetMetrics(Md("ANY", "w"), "");
  ASSERT_FALSE(value.ok());
  EXPECT_EQ(value.status().code(), core::StatusCode::kUnavailable);
  EXPECT_THAT(value.status().message(), HasSubstr("not connected"));
  EXPECT_EQ(client_->IsActive(Md("ANY", "w")).status().code(), core::StatusCode::kUnavailable);
  EXPECT_EQ(HttpGet(server_->metrics_port(), "/readyz").status, 503);
  // cnats gives up for good on a server that never sends INFO; the scaler
  // cannot recover in-process, so liveness fails and Kubernetes restarts it.
  EXPECT_TRUE(WaitFor([&] { return HttpGet(server_->metrics_port(), "/healthz").status == 503; }));
  // GetMetricSpec needs no NATS read: KEDA can still build its HPA.
  EXPECT_TRUE(client_->GetMetricSpec(Md("ANY", "w")).ok());
}

TEST_F(NatsOutageTest, ScalerStartedBeforeNatsConnectsWhenNatsArrives) {
  const int port = nats_->port();
  nats_->Kill();
  StartScaler();
  EXPECT_EQ(client_->GetMetrics(Md("LATE", "w"), "").status().code(),
            core::StatusCode::kUnavailable);
  ASSERT_TRUE(nats_->Restart());
  ASSERT_EQ(nats_->port(), port);
  EXPECT_TRUE(WaitFor([&] { return HttpGet(server_->metrics_port(), "/readyz").status == 200; }));
  EXPECT_EQ(client_->GetMetrics(Md("LATE", "w"), "").status().code(),
            core::StatusCode::kNotFound);
}

}  // namespace
}  // namespace jss::testing
