// What nats-server 2.10+ and 2.11+ added to consumers and to the JetStream API,
// against a real server: several filter subjects, paused consumers, the API
// level. Tests that need a newer server than the one under test skip, naming
// the version; their suites start with NatsFeatures, which CMake labels
// `nats-2.11+` so that the matrix runs them on the newest release.
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "gmock/gmock.h"
#include "integration/activity_stream.h"
#include "integration/scaler_fixture.h"
#include "support/capture_sink.h"
#include "support/test_util.h"

namespace jss::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

// RFC 3339 UTC, `from_now` ahead.
std::string Rfc3339FromNow(std::chrono::seconds from_now) {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now() +
                                                             from_now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

class NatsFeaturesTest : public ScalerFixture {
 protected:
  NatsFeaturesTest() { nats_options_.monitoring = true; }  // /varz: the version under test

  void SetUp() override {
    ScalerFixture::SetUp();
    if (HasFatalFailure()) return;
    version_ = VarzVersion(nats_->monitoring_port());
    ASSERT_FALSE(version_.empty()) << "nats-server did not report its version on /varz";
    auto sink = std::make_shared<spdlog::logger>("test", capture_);
    sink->set_level(spdlog::level::info);
    logger_ = std::make_shared<logging::Logger>(sink, logging::Format::kText);
  }

  // True (the test goes on) when the server is at least major.minor.
  bool Needs(int major, int minor) { return VersionAtLeast(version_, major, minor); }

  double Gauge(const std::string& series) { return ScrapeValue(Metrics(), series); }

  // A JetStream API call the admin has no function for; fails the test on an API error.
  std::string Api(const std::string& subject, const std::string& body) {
    auto reply = admin_->Request(subject, body);
    EXPECT_TRUE(reply.ok()) << reply.status().ToString();
    if (!reply.ok()) return "";
    EXPECT_THAT(*reply, Not(HasSubstr("\"error\""))) << subject;
    return *reply;
  }

  std::string version_;
  std::shared_ptr<CaptureSink> capture_ = std::make_shared<CaptureSink>();
};

#define SKIP_UNLESS_SERVER(major, minor)                                                    \
  if (!Needs(major, minor)) {                                                               \
    GTEST_SKIP() << "needs nats-server " #major "." #minor "+ (this one is " << version_    \
                 << "); run with JSS_NATS_SERVER=$(scripts/nats-server.sh v2.15.3)";        \
  }

// pushInterval 1h: nothing but the wake-up can deliver `true`.
const std::map<std::string, std::string> kNoPolling = {{"pushInterval", "1h"}};

TEST_F(NatsFeaturesTest, AConsumerWithTwoFilterSubjectsWakesOnAPublishToTheSecond) {
  SKIP_UNLESS_SERVER(2, 10);
  ASSERT_TRUE(admin_->AddStream({"MF", {"mf.>"}}).ok());
  Api("$JS.API.CONSUMER.CREATE.MF.both",
      R"({"stream_name":"MF","config":{"durable_name":"both","ack_policy":"explicit",)"
      R"("filter_subjects":["mf.a","mf.b"]}})");
  StartScaler();
  ActivityStream stream(client_->stub(), Md("MF", "both", kNoPolling));
  ASSERT_EQ(stream.Next(), false);
  // One wake-up subscription per filter subject, as nats-server counts them
  // too (plus the reply inbox).
  ASSERT_TRUE(WaitFor([&] { return Gauge("jetstream_scaler_push_wakeup_subscriptions") == 2; }))
      << Metrics();
  EXPECT_TRUE(WaitFor([&] {
    return ConnzSubscriptions(nats_->monitoring_port(), "jetstream-scaler") == 3;
  })) << ConnzSubscriptions(nats_->monitoring_port(), "jetstream-scaler");
  ASSERT_TRUE(admin_->Publish("mf.b", 2).ok());
  EXPECT_EQ(stream.Next(), true) << "a publish on the second filter subject woke nobody";
  EXPECT_GE(Gauge("jetstream_scaler_push_wakeups_total"), 1);
  // A subject outside the filters is not the consumer's work.
  ASSERT_TRUE(admin_->Publish("mf.c", 5).ok());
  // Lag is still the server's num_pending + num_ack_pending.
  ASSERT_EQ(*admin_->Fetch("MF", "both", 1, /*ack=*/false), 1);
  auto reference = admin_->ConsumerInfo("MF", "both");
  ASSERT_TRUE(reference.ok());
  EXPECT_EQ(reference->num_pending, 1u);
  EXPECT_EQ(reference->num_ack_pending, 1u);
  auto value = client_->GetMetrics(Md("MF", "both"), "");
  ASSERT_TRUE(value.ok()) << value.status().ToString();
  EXPECT_EQ(value->value, 2);
}

TEST_F(NatsFeaturesTest, APausedConsumerKeepsItsTrueLagAndIsShownByAGaugeAndOneLogLinePerChange) {
  SKIP_UNLESS_SERVER(2, 11);
  CreateStream("PAUSE", "pause.>", "w");
  ASSERT_TRUE(admin_->Publish("pause.x", 3).ok());
  StartScaler();
  const std::string series =
      R"(jetstream_scaler_consumer_paused{connection="default",consumer="w",stream="PAUSE"})";
  ASSERT_EQ(client_->GetMetrics(Md("PAUSE", "w"), "")->value, 3);
  EXPECT_LT(Gauge(series), 0) << "no series for a consumer never seen paused";

  const std::string paused =
      Api("$JS.API.CONSUMER.PAUSE.PAUSE.w",
          R"({"pause_until":")" + Rfc3339FromNow(std::chrono::hours(1)) + R"("})");
  ASSERT_THAT(paused, HasSubstr("\"paused\":true"));
  ASSERT_TRUE(admin_->Publish("pause.x", 2).ok());
  // The backlog is reported as it is (never a fabricated 0): KEDA keeps or
  // restores the workers, which drain it as soon as the pause ends.
  for (int i = 0; i < 3; ++i) {
    auto value = client_->GetMetrics(Md("PAUSE", "w"), "");
    ASSERT_TRUE(value.ok()) << value.status().ToString();
    EXPECT_EQ(value->value, 5);
  }
  EXPECT_EQ(client_->IsActive(Md("PAUSE", "w")).value(), true);
  EXPECT_EQ(Gauge(series), 1);
  EXPECT_EQ(Count(capture_->Text(), "consumer is paused"), 1u) << capture_->Text();
  EXPECT_THAT(capture_->Text(), HasSubstr("pause_remaining_s="));

  // An empty pause_until resumes it.
  const std::string resumed = Api("$JS.API.CONSUMER.PAUSE.PAUSE.w", "{}");
  ASSERT_THAT(resumed, HasSubstr("\"paused\":false"));
  for (int i = 0; i < 2; ++i) EXPECT_EQ(client_->GetMetrics(Md("PAUSE", "w"), "")->value, 5);
  EXPECT_EQ(Gauge(series), 0);
  EXPECT_EQ(Count(capture_->Text(), "consumer resumed"), 1u) << capture_->Text();
  EXPECT_EQ(Count(capture_->Text(), "consumer is paused"), 1u);
}

// Any server: 2.11+ reports a level, older ones none (gauge 0).
TEST_F(NatsFeaturesTest, TheApiLevelIsLoggedAndExportedAtEveryConnect) {
  StartScaler();
  const std::string series = R"(jetstream_scaler_nats_api_level{connection="default"})";
  ASSERT_TRUE(WaitFor([&] { return Gauge(series) >= 0; })) << Metrics();
  const double level = Gauge(series);
  if (Needs(2, 11)) {
    EXPECT_GE(level, 1) << "nats-server " << version_ << " has an API level";
    EXPECT_THAT(capture_->Text(), HasSubstr("api_level=" + std::to_string(int(level))));
  } else {
    EXPECT_EQ(level, 0) << "nats-server " << version_ << " reports no API level";
    EXPECT_THAT(capture_->Text(), HasSubstr("api_level=none"));
  }
  EXPECT_EQ(Count(capture_->Text(), "JetStream API level"), 1u) << capture_->Text();
  // A reconnect may reach another server: asked again.
  ASSERT_TRUE(nats_->Restart());
  EXPECT_TRUE(WaitFor([&] { return Count(capture_->Text(), "JetStream API level") == 2; }))
      << capture_->Text();
  EXPECT_EQ(Gauge(series), level);
}

// The scaler's NATS user with only the two INFO subjects the docs granted
// before $JS.API.INFO was added: the level is unknown (0, logged once),
// and reads work as before.
class NatsFeaturesPermissionTest : public NatsFeaturesTest {
 protected:
  void SetUp() override {
    conf_ = std::filesystem::temp_directory_path() /
            ("jss-api-level-" + std::to_string(getpid()) + ".conf");
    std::ofstream(conf_) << R"(authorization {
  users = [
    { user: admin, password: admin-pw }
    { user: scaler, password: scaler-pw, permissions: {
        publish: { allow: ["$JS.API.CONSUMER.INFO.*.*", "$JS.API.STREAM.INFO.*"] }
        subscribe: { allow: ["_INBOX.>"] } } }
  ]
}
)";
    nats_options_.extra_args = {"-c", conf_.string()};
    std::string error;
    nats_ = NatsServerProcess::Start(nats_options_, &error);
    ASSERT_NE(nats_, nullptr) << error;
    auto admin = tools::JetStreamAdmin::Connect("nats://admin:admin-pw@127.0.0.1:" +
                                                std::to_string(nats_->port()));
    ASSERT_TRUE(admin.ok()) << admin.status().ToString();
    admin_ = std::move(*admin);
    version_ = VarzVersion(nats_->monitoring_port());
    auto sink = std::make_shared<spdlog::logger>("test", capture_);
    sink->set_level(spdlog::level::info);
    logger_ = std::make_shared<logging::Logger>(sink, logging::Format::kText);
  }
  void TearDown() override {
    ScalerFixture::TearDown();
    std::filesystem::remove(conf_);
  }
  std::filesystem::path conf_;
};

TEST_F(NatsFeaturesPermissionTest, ARefusedApiInfoLeavesTheLevelAtZeroAndReadsWorking) {
  CreateStream("PERM", "perm.>", "w");
  ASSERT_TRUE(admin_->Publish("perm.x", 4).ok());
  StartScaler([](app::Config& c) {
    c.nats_default_auth.user = "scaler";
    c.nats_default_auth.password = "scaler-pw";
  });
  const std::string series = R"(jetstream_scaler_nats_api_level{connection="default"})";
  ASSERT_TRUE(WaitFor([&] { return Gauge(series) >= 0; })) << Metrics();
  EXPECT_EQ(Gauge(series), 0);
  EXPECT_THAT(capture_->Text(), HasSubstr("JetStream API level unknown"));
  EXPECT_EQ(Count(capture_->Text(), "JetStream API level"), 1u) << capture_->Text();
  auto value = client_->GetMetrics(Md("PERM", "w"), "");
  ASSERT_TRUE(value.ok()) << value.status().ToString();
  EXPECT_EQ(value->value, 4);
  EXPECT_EQ(Gauge(R"(jetstream_scaler_nats_connection_up{connection="default"})"), 1);
}

}  // namespace
}  // namespace jss::testing
