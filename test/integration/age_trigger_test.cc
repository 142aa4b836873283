// Age triggers (ageThreshold) over real gRPC against a real nats-server: the
// metric is the age of the consumer's oldest unacknowledged message.
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "integration/activity_stream.h"
#include "integration/scaler_fixture.h"

namespace jss::testing {
namespace {

using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

class AgeTriggerTest : public ScalerFixture {};

TEST_F(AgeTriggerTest, TheMetricIsTheOldestUnacknowledgedMessagesAgeInSeconds) {
  CreateStream("ORDERS", "orders.>", "workers");
  StartScaler([](app::Config& c) { c.lag_cache_ttl = std::chrono::milliseconds(0); });
  const auto md = Md("ORDERS", "workers", {{"ageThreshold", "30s"}});

  auto spec = client_->GetMetricSpec(md);
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->metric_name, "nats-jetstream-age-ORDERS");
  EXPECT_EQ(spec->target_size, 30);
  EXPECT_EQ(spec->target_size_float, 30.0);

  // Nothing waiting: an exact 0, and inactive.
  auto empty = client_->GetMetrics(md, "nats-jetstream-age-ORDERS");
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_EQ(empty->metric_name, "nats-jetstream-age-ORDERS");
  EXPECT_EQ(empty->value, 0);
  EXPECT_EQ(empty->value_float, 0.0);
  EXPECT_FALSE(*client_->IsActive(md));

  const auto before_publish = Clock::now();
  ASSERT_TRUE(admin_->Publish("orders.new", 3).ok());
  // The age grows from the publish on: awaited, then bounded by our own clock
  // (one machine, so the server's clocks are ours).
  ASSERT_TRUE(WaitFor([&] {
    auto v = client_->GetMetrics(md, "");
    return v.ok() && v->value_float > 0;
  }));
  auto aged = client_->GetMetrics(md, "");
  ASSERT_TRUE(aged.ok());
  EXPECT_LE(aged->value_float, SecondsSince(before_publish) + 0.05);
  EXPECT_GE(aged->value, 1);  // rounded up: any wait counts
  EXPECT_TRUE(*client_->IsActive(md));
  EXPECT_THAT(Metrics(), HasSubstr("jetstream_scaler_consumer_oldest_age_seconds{"));

  // Delivered but unacknowledged: still waiting, still counted.
  ASSERT_EQ(*admin_->Fetch("ORDERS", "workers", 3, /*ack=*/false), 3);
  auto unacked = client_->GetMetrics(md, "");
  ASSERT_TRUE(unacked.ok());
  EXPECT_GT(unacked->value_float, 0);
}

TEST_F(AgeTriggerTest, ConcurrentCallersShareOneAgeRead) {
  for (const char* stream : {"WARM", "ONE", "HOT"}) {
    const std::string name(stream);
    CreateStream(name, name + ".>", "w");
    ASSERT_TRUE(admin_->Publish(name + ".x", 2).ok());
  }
  // A window far longer than the test so exactly one read can happen in it.
  StartScaler([](app::Config& c) { c.lag_cache_ttl = std::chrono::minutes(5); });
  const std::string series = "jetstream_scaler_nats_requests_total{connection=\"default\"}";
  auto requests = [&] { return std::max(0.0, ScrapeValue(Metrics(), series)); };
  auto age_md = [](const std::string& stream) { return Md(stream, "w", {{"ageThreshold", "30s"}}); };
  // Anything the connection sends once (its API-level probe) is over after a first read.
  ASSERT_TRUE(client_->GetMetrics(age_md("WARM"), "").ok());

  // What one age read of a consumer with a backlog costs: CONSUMER.INFO, the
  // stream's allow_direct (STREAM.INFO), one message get.
  double before = requests();
  ASSERT_TRUE(client_->GetMetrics(age_md("ONE"), "").ok());
  const double one_read = requests() - before;
  EXPECT_GE(one_read, 2.0);

  before = requests();
  constexpr int kCallers = 100;
  std::atomic<int> aged{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kCallers; ++i) {
    threads.emplace_back([&] {
      auto v = client_->GetMetrics(age_md("HOT"), "");
      if (v.ok() && v->metric_name == "nats-jetstream-age-HOT") ++aged;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(aged.load(), kCallers);
  EXPECT_EQ(requests() - before, one_read) << "100 callers of one consumer, one age read";
}

TEST_F(AgeTriggerTest, ADrainedConsumerIsZeroAndInactive) {
  CreateStream("DONE", "done.>", "workers");
  ASSERT_TRUE(admin_->Publish("done.x", 4).ok());
  StartScaler([](app::Config& c) { c.lag_cache_ttl = std::chrono::milliseconds(0); });
  const auto md = Md("DONE", "workers", {{"ageThreshold", "10"}});
  ASSERT_TRUE(WaitFor([&] {
    auto v = client_->GetMetrics(md, "");
    return v.ok() && v->value_float > 0;
  }));
  ASSERT_EQ(*admin_->Fetch("DONE", "workers", 4, /*ack=*/true), 4);
  auto drained = client_->GetMetrics(md, "");
  ASSERT_TRUE(drained.ok()) << drained.status().ToString();
  EXPECT_EQ(drained->value, 0);
  EXPECT_EQ(drained->value_float, 0.0);
  EXPECT_FALSE(*client_->IsActive(md));
}

TEST_F(AgeTriggerTest, ActivationAgeThresholdIsStrict) {
  CreateStream("ACT", "act.>", "workers");
  ASSERT_TRUE(admin_->Publish("act.x", 1).ok());
  StartScaler([](app::Config& c) { c.lag_cache_ttl = std::chrono::milliseconds(0); });
  ASSERT_TRUE(WaitFor([&] {
    auto v = client_->GetMetrics(Md("ACT", "workers", {{"ageThreshold", "30s"}}), "");
    return v.ok() && v->value_float > 0;
  }));
  // A threshold far beyond the message's age: not active; 0: active.
  EXPECT_FALSE(*client_->IsActive(
      Md("ACT", "workers", {{"ageThreshold", "30s"}, {"activationAgeThreshold", "1h"}})));
  EXPECT_TRUE(*client_->IsActive(
      Md("ACT", "workers", {{"ageThreshold", "30s"}, {"activationAgeThreshold", "0"}})));
}

TEST_F(AgeTriggerTest, OlderMessagesOnSubjectsTheConsumerDoesNotTakeDoNotCount) {
  ASSERT_TRUE(admin_->AddStream({"MIX", {"mix.>"}}).ok());
  ASSERT_TRUE(admin_->Publish("mix.other", 2).ok());
  ASSERT_TRUE(admin_->AddConsumer({"MIX", "mine", "mix.mine"}).ok());
  StartScaler([](app::Config& c) { c.lag_cache_ttl = std::chrono::milliseconds(0); });
  const auto md = Md("MIX", "mine", {{"ageThreshold", "30s"}});
  auto none = client_->GetMetrics(md, "");
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_EQ(none->value_float, 0.0);  // the older mix.other messages are not its work
  EXPECT_FALSE(*client_->IsActive(md));
}

TEST_F(AgeTriggerTest, MissingConsumerOrStreamIsNotFoundNeverZero) {
  CreateStream("S", "s.>", "c");
  StartScaler();
  for (const auto& md : {Md("S", "nope", {{"ageThreshold", "30s"}}),
                         Md("NOPE", "c", {{"ageThreshold", "30s"}})}) {
    auto v = client_->GetMetrics(md, "");
    EXPECT_EQ(v.status().code(), core::StatusCode::kNotFound) << v.status().ToString();
    EXPECT_EQ(client_->IsActive(md).status().code(), core::StatusCode::kNotFound);
  }
}

TEST_F(AgeTriggerTest, BadAgeMetadataIsInvalidArgumentNamingTheKeys) {
  CreateStream("S", "s.>", "c");
  StartScaler();
  auto both = client_->GetMetricSpec(Md("S", "c", {{"ageThreshold", "30s"}, {"lagThreshold", "5"}}));
  EXPECT_EQ(both.status().code(), core::StatusCode::kInvalidArgument);
  EXPECT_THAT(both.status().message(), HasSubstr("\"ageThreshold\" and \"lagThreshold\""));
  auto zero = client_->GetMetrics(Md("S", "c", {{"ageThreshold", "0"}}), "");
  EXPECT_EQ(zero.status().code(), core::StatusCode::kInvalidArgument);
  EXPECT_THAT(zero.status().message(), HasSubstr("\"ageThreshold\""));
}

TEST_F(AgeTriggerTest, ExternalPushTellsAnAgeTriggerActiveOnTheFirstPublishAndIdleWhenDrained) {
  CreateStream("PUSH", "push.>", "workers");
  StartScaler();
  ActivityStream stream(client_->stub(), Md("PUSH", "workers", {{"ageThreshold", "30s"}}));
  EXPECT_EQ(stream.Next(), std::optional<bool>(false)) << "nothing waits";
  ASSERT_TRUE(admin_->Publish("push.a", 1).ok());
  EXPECT_EQ(stream.Next(), std::optional<bool>(true)) << "a publish wakes the age watcher";
  ASSERT_EQ(*admin_->Fetch("PUSH", "workers", 1, /*ack=*/true), 1);
  EXPECT_EQ(stream.Next(), std::optional<bool>(false)) << "an active watcher is polled";
  EXPECT_EQ(stream.History(), (std::vector<bool>{false, true, false}));
}

TEST_F(AgeTriggerTest, ExternalPushActivatesOnceTheOldestMessageIsOlderThanActivationAgeThreshold) {
  CreateStream("LATE", "late.>", "workers");
  StartScaler([](app::Config& c) { c.lag_cache_ttl = std::chrono::milliseconds(0); });
  const auto md =
      Md("LATE", "workers", {{"ageThreshold", "30s"}, {"activationAgeThreshold", "1500ms"}});
  ActivityStream stream(client_->stub(), md);
  EXPECT_EQ(stream.Next(), std::optional<bool>(false));
  ASSERT_TRUE(admin_->Publish("late.a", 1).ok());
  // No publish says when the message has waited long enough: the watcher's
  // timer does. When `true` comes, the age is past the threshold.
  ASSERT_EQ(stream.Next(), std::optional<bool>(true));
  auto age = client_->GetMetrics(md, "");
  ASSERT_TRUE(age.ok()) << age.status().ToString();
  EXPECT_GT(age->value_float, 1.5);
  EXPECT_EQ(stream.History(), (std::vector<bool>{false, true}));
  // The wait was a timer on a live wake-up, not the polling fallback.
  EXPECT_THAT(Metrics(), HasSubstr("jetstream_scaler_push_polling_fallback_watchers 0"));
}

TEST_F(AgeTriggerTest, ExternalPushNeverTellsAnAgeTriggerIdleForAConsumerNotCreatedYet) {
  // A consumer not created yet is retried (the stream stays open, silent),
  // never told `false`: a fabricated idle would scale the workload to zero.
  CreateStream("S", "s.>", "c");
  StartScaler();
  ActivityStream stream(client_->stub(), Md("S", "later", {{"ageThreshold", "30s"}}));
  ASSERT_TRUE(admin_->Publish("s.a", 1).ok());  // waits in the stream for the new consumer
  ASSERT_TRUE(admin_->AddConsumer({"S", "later", ""}).ok());
  EXPECT_EQ(stream.Next(), std::optional<bool>(true));
  EXPECT_EQ(stream.History(), std::vector<bool>{true}) << "no false before the consumer existed";
}

}  // namespace
}  // namespace jss::testing
