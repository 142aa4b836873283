// Every RPC over real gRPC against a real JetStream server.
#include <grpcpp/grpcpp.h>
#include <grpcpp/generic/generic_stub.h>

#include <atomic>
#include <thread>

#include "gmock/gmock.h"
#include "integration/scaler_fixture.h"

namespace jss::testing {
namespace {

using ::testing::HasSubstr;

class ScalerRpcTest : public ScalerFixture {};

TEST_F(ScalerRpcTest, PendingMessagesAreTheLag) {
  CreateStream("ORDERS", "orders.>", "workers");
  ASSERT_TRUE(admin_->Publish("orders.new", 12).ok());
  StartScaler();

  auto spec = client_->GetMetricSpec(Md("ORDERS", "workers", {{"lagThreshold", "5"}}));
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->metric_name, "nats-jetstream-ORDERS");
  EXPECT_EQ(spec->target_size, 5);
  EXPECT_EQ(spec->target_size_float, 5.0);

  auto value = client_->GetMetrics(Md("ORDERS", "workers"), "nats-jetstream-ORDERS");
  ASSERT_TRUE(value.ok()) << value.status().ToString();
  EXPECT_EQ(value->metric_name, "nats-jetstream-ORDERS");
  EXPECT_EQ(value->value, 12);
  EXPECT_EQ(value->value_float, 12.0);

  auto active = client_->IsActive(Md("ORDERS", "workers"));
  ASSERT_TRUE(active.ok()) << active.status().ToString();
  EXPECT_TRUE(*active);
}

TEST_F(ScalerRpcTest, AckPendingCountsAndMatchesTheJetStreamReference) {
  CreateStream("JOBS", "jobs.>", "workers");
  ASSERT_TRUE(admin_->Publish("jobs.run", 10).ok());
  StartScaler();
  auto md = Md("JOBS", "workers");

  ASSERT_EQ(*admin_->Fetch("JOBS", "workers", 4, /*ack=*/false), 4);
  auto reference = admin_->ConsumerInfo("JOBS", "workers");
  ASSERT_TRUE(reference.ok());
  EXPECT_EQ(reference->num_pending, 6u);
  EXPECT_EQ(reference->num_ack_pending, 4u);
  EXPECT_EQ(client_->GetMetrics(md, "")->value, 10);

  ASSERT_EQ(*admin_->Fetch("JOBS", "workers", 3, /*ack=*/true), 3);
  reference = admin_->ConsumerInfo("JOBS", "workers");
  EXPECT_EQ(client_->GetMetrics(md, "")->value,
            static_cast<int64_t>(reference->num_pending + reference->num_ack_pending));
  EXPECT_EQ(client_->GetMetrics(md, "")->value, 7);
  EXPECT_TRUE(*client_->IsActive(md));
}

TEST_F(ScalerRpcTest, DrainedConsumerIsInactiveWithAnExactZero) {
  CreateStream("DONE", "done.>", "workers");
  ASSERT_TRUE(admin_->Publish("done.x", 3).ok());
  ASSERT_EQ(*admin_->Fetch("DONE", "workers", 3, /*ack=*/true), 3);
  StartScaler();
  auto value = client_->GetMetrics(Md("DONE", "workers"), "");
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(value->value, 0);
  EXPECT_FALSE(*client_->IsActive(Md("DONE", "workers")));
}

TEST_F(ScalerRpcTest, ActivationThresholdIsStrict) {
  CreateStream("ACT", "act.>", "workers");
  ASSERT_TRUE(admin_->Publish("act.x", 5).ok());
  StartScaler();
  EXPECT_FALSE(*client_->IsActive(Md("ACT", "workers", {{"activationLagThreshold", "5"}})));
  EXPECT_TRUE(*client_->IsActive(Md("ACT", "workers", {{"activationLagThreshold", "4"}})));
}

TEST_F(ScalerRpcTest, FilteredConsumerCountsOnlyItsSubjects) {
  CreateStream("EVENTS", "events.*", "only-a", "events.a");
  ASSERT_TRUE(admin_->Publish("events.a", 3).ok());
  ASSERT_TRUE(admin_->Publish("events.b", 7).ok());
  StartScaler();
  EXPECT_EQ(client_->GetMetrics(Md("EVENTS", "only-a"), "")->value, 3);
  auto reference = admin_->ConsumerInfo("EVENTS", "only-a");
  EXPECT_EQ(reference->num_pending, 3u);
}

TEST_F(ScalerRpcTest, MetricNameIsNormalisedLikeTheBuiltIn) {
  CreateStream("My_Stream-1", "my.>", "w");
  StartScaler();
  auto spec = client_->GetMetricSpec(Md("My_Stream-1", "w"));
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec->metric_name, "nats-jetstream-My_Stream-1");
}

TEST_F(ScalerRpcTest, MissingStreamIsNotFoundNamingTheStream) {
  StartScaler();
  auto value = client_->GetMetrics(Md("NOPE", "workers"), "");
  ASSERT_FALSE(value.ok());
  EXPECT_EQ(value.status().code(), core::StatusCode::kNotFound);
  EXPECT_THAT(value.status().message(), HasSubstr("stream \"NOPE\" not found"));
  auto active = client_->IsActive(Md("NOPE", "workers"));
  EXPECT_EQ(active.status().code(), core::StatusCode::kNotFound);
}

TEST_F(ScalerRpcTest, MissingConsumerIsNotFoundNamingTheConsumer) {
  CreateStream("HAS", "has.>", "workers");
  StartScaler();
  auto value = client_->GetMetrics(Md("HAS", "ghost"), "");
  ASSERT_FALSE(value.ok());
  EXPECT_EQ(value.status().code(), core::StatusCode::kNotFound);
  EXPECT_THAT(value.status().message(), HasSubstr("consumer \"ghost\" not found"));
  EXPECT_EQ(client_->IsActive(Md("HAS", "ghost")).status().code(), core::StatusCode::kNotFound);
}

struct BadMetadataCase {
  const char* name;
  std::map<std::string, std::string> metadata;
  const char* key;
};

class BadMetadataTest : public ScalerFixture,
                        public ::testing::WithParamInterface<BadMetadataCase> {};

TEST_P(BadMetadataTest, EveryRpcAnswersInvalidArgumentNamingTheKey) {
  StartScaler();
  const auto& c = GetParam();
  auto spec = client_->GetMetricSpec(c.metadata);
  auto value = client_->GetMetrics(c.metadata, "");
  auto active = client_->IsActive(c.metadata);
  for (const core::Status* s : {&spec.status(), &value.status(), &active.status()}) {
    EXPECT_EQ(s->code(), core::StatusCode::kInvalidArgument) << c.name << ": " << s->ToString();
    EXPECT_THAT(s->message(), HasSubstr(c.key)) << c.name;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, BadMetadataTest,
    ::testing::Values(
        BadMetadataCase{"no_stream", {{"consumer", "c"}}, "\"stream\""},
        BadMetadataCase{"no_consumer", {{"stream", "s"}}, "\"consumer\""},
        BadMetadataCase{"threshold_text", {{"stream", "s"}, {"consumer", "c"}, {"lagThreshold", "x"}},
                        "\"lagThreshold\""},
        BadMetadataCase{"threshold_zero", {{"stream", "s"}, {"consumer", "c"}, {"lagThreshold", "0"}},
                        "\"lagThreshold\""},
        BadMetadataCase{"activation_negative",
                        {{"stream", "s"}, {"consumer", "c"}, {"activationLagThreshold", "-1"}},
                        "\"activationLagThreshold\""},
        BadMetadataCase{"subject_injection", {{"stream", "s.>"}, {"consumer", "c"}}, "\"stream\""},
        BadMetadataCase{"unconfigured_nats_url",
                        {{"stream", "s"}, {"consumer", "c"}, {"natsUrl", "nats://10.0.0.9:4222"}},
                        "\"natsUrl\""}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

TEST_F(ScalerRpcTest, NatsUrlThatTheScalerWasGivenIsAccepted) {
  CreateStream("URL", "url.>", "w");
  ASSERT_TRUE(admin_->Publish("url.x", 2).ok());
  StartScaler();
  auto value = client_->GetMetrics(Md("URL", "w", {{"natsUrl", nats_->url()}}), "");
  ASSERT_TRUE(value.ok()) << value.status().ToString();
  EXPECT_EQ(value->value, 2);
}

TEST_F(ScalerRpcTest, AccountSelectsANamedConnection) {
  std::string error;
  auto second = NatsServerProcess::Start({}, &error);
  ASSERT_NE(second, nullptr) << error;
  auto second_admin = tools::JetStreamAdmin::Connect(second->url());
  ASSERT_TRUE(second_admin.ok());
  ASSERT_TRUE((*second_admin)->AddStream({"ONLY_B", {"b.>"}}).ok());
  ASSERT_TRUE((*second_admin)->AddConsumer({"ONLY_B", "w", ""}).ok());
  ASSERT_TRUE((*second_admin)->Publish("b.x", 4).ok());
  StartScaler([&](app::Config& c) {
    c.connections.push_back({"tenant-b", {second->url()}, true});
  });

  auto via_b = client_->GetMetrics(Md("ONLY_B", "w", {{"account", "tenant-b"}}), "");
  ASSERT_TRUE(via_b.ok()) << via_b.status().ToString();
  EXPECT_EQ(via_b->value, 4);
  // The default connection is a different server: the stream is not there.
  EXPECT_EQ(client_->GetMetrics(Md("ONLY_B", "w"), "").status().code(),
            core::StatusCode::kNotFound);
  auto unknown = client_->GetMetrics(Md("ONLY_B", "w", {{"account", "tenant-x"}}), "");
  EXPECT_EQ(unknown.status().code(), core::StatusCode::kInvalidArgument);
  EXPECT_THAT(unknown.status().message(), HasSubstr("\"account\""));
}

TEST_F(ScalerRpcTest, ConcurrentCallersCostOneNatsRequestPerWindow) {
  CreateStream("HOT", "hot.>", "w");
  ASSERT_TRUE(admin_->Publish("hot.x", 9).ok());
  // A window far longer than the test so exactly one read can happen in it.
  StartScaler([](app::Config& c) { c.lag_cache_ttl = std::chrono::minutes(5); });
  const std::string series = "jetstream_scaler_nats_requests_total{connection=\"default\"}";
  const double before = std::max(0.0, ScrapeValue(Metrics(), series));

  constexpr int kCallers = 100;
  std::atomic<int> ok_nine{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kCallers; ++i) {
    threads.emplace_back([&] {
      auto v = client_->GetMetrics(Md("HOT", "w"), "");
      if (v.ok() && v->value == 9) ++ok_nine;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok_nine.load(), kCallers);
  EXPECT_EQ(ScrapeValue(Metrics(), series) - before, 1.0);
}

TEST_F(ScalerRpcTest, HealthEndpointsReflectTheNatsConnection) {
  StartScaler();
  EXPECT_EQ(HttpGet(server_->metrics_port(), "/healthz").status, 200);
  EXPECT_EQ(HttpGet(server_->metrics_port(), "/readyz").status, 200);
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->grpc_port()),
                                     grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  // grpc.health.v1.Health/Check with an empty request: a SERVING reply is
  // the two bytes 0x08 0x01 (field 1 = 1).
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
  grpc::ByteBuffer request;
  grpc::ByteBuffer response;
  grpc::Slice empty("");
  request = grpc::ByteBuffer(&empty, 1);
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  grpc::Status status;
  stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) {
                   std::lock_guard<std::mutex> lock(mu);
                   status = s;
                   done = true;
                   cv.notify_all();
                 });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return done; });
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response.Dump(&slices).ok());
  std::string bytes;
  for (auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  EXPECT_EQ(bytes, std::string("\x08\x01", 2));
}

TEST_F(ScalerRpcTest, MetricsExposeRpcOutcomesAndConsumerLag) {
  CreateStream("OBS", "obs.>", "w");
  ASSERT_TRUE(admin_->Publish("obs.x", 6).ok());
  StartScaler();
  ASSERT_TRUE(client_->GetMetrics(Md("OBS", "w"), "").ok());
  ASSERT_FALSE(client_->GetMetrics(Md("OBS", "ghost"), "").ok());
  const std::string m = Metrics();
  EXPECT_EQ(ScrapeValue(m, "jetstream_scaler_grpc_requests_total{code=\"OK\",method=\"GetMetrics\"}"), 1);
  EXPECT_EQ(ScrapeValue(m, "jetstream_scaler_grpc_requests_total{code=\"NOT_FOUND\",method=\"GetMetrics\"}"), 1);
  EXPECT_EQ(ScrapeValue(m, "jetstream_scaler_consumer_lag{connection=\"default\",consumer=\"w\",stream=\"OBS\"}"), 6);
  // A name never read successfully gets no series of its own (tenants could
  // otherwise grow /metrics without bound); its failure counts by reason.
  EXPECT_EQ(ScrapeValue(m, "jetstream_scaler_consumer_lag_read_failures_total{connection=\"default\",consumer=\"ghost\",stream=\"OBS\"}"), -1);
  EXPECT_EQ(ScrapeValue(m, "jetstream_scaler_lag_read_errors_total{connection=\"default\",reason=\"not_found\"}"), 1);
  EXPECT_EQ(ScrapeValue(m, "jetstream_scaler_nats_connection_up{connection=\"default\"}"), 1);
}

}  // namespace
}  // namespace jss::testing
