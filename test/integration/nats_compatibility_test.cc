// What newer nats-server releases do differently, on whichever server the run uses
// (JSS_NATS_SERVER, scripts/test.sh's matrix): KEDA's built-in scaler reads /jsz, whose answer
// for an unmatched `acc` changed between 2.10.5 and 2.10.27, while this scaler reads the
// JetStream API; and 2.14+ drops JetStream INFO requests beyond `info_queue_limit`, which must
// reach KEDA as a typed UNAVAILABLE, never a hang or a 0.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "integration/scaler_fixture.h"
#include "support/advisory_counter.h"

namespace jss::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// One JetStream account APP (unauthenticated clients - the fixture's admin and the scaler -
// land in it) and a system account SYS, where the server publishes its JetStream advisories.
class NatsCompatibilityTest : public ScalerFixture {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("jss-compat-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "nats.conf") << ConfigWithSystemAccount(ExtraConfig());
    nats_options_.monitoring = true;
    nats_options_.extra_args = {"-c", (dir_ / "nats.conf").string()};
    ScalerFixture::SetUp();
  }

  void TearDown() override {
    ScalerFixture::TearDown();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  virtual std::string ExtraConfig() const { return ""; }

  std::filesystem::path dir_;
};

TEST_F(NatsCompatibilityTest, KedasJszQueryMissesTheConsumerOnNewServersWhileTheScalerReadsIt) {
  CreateStream("JOBS", "jobs.>", "workers");
  ASSERT_TRUE(admin_->Publish("jobs.x", 6).ok());
  StartScaler();
  auto value = client_->GetMetrics(Md("JOBS", "workers"), "");
  ASSERT_TRUE(value.ok()) << value.status().ToString();
  EXPECT_EQ(value->value, 6) << NatsServerProcess::Version();

  // The query KEDA's nats-jetstream scaler builds (acc, consumers, config; no accounts=true),
  // with an `account` the server does not know its JetStream account by ($G: the consumer is
  // in APP). 2.9.10 and 2.10.5 fall back to every account; 2.10.27, 2.11.17 and 2.15.3 answer
  // without account_details, which the built-in reports as "consumer not found"
  // (kedacore/keda#8165). Versions in between were not checked.
  const auto keda = HttpGet(nats_->monitoring_port(), "/jsz?acc=%24G&consumers=true&config=true");
  ASSERT_EQ(keda.status, 200) << keda.body;
  if (NatsServerProcess::VersionAtLeast(2, 10, 27)) {
    EXPECT_THAT(keda.body, Not(HasSubstr("account_details"))) << NatsServerProcess::Version();
  } else if (!NatsServerProcess::VersionAtLeast(2, 10, 6)) {
    EXPECT_THAT(keda.body, HasSubstr(R"("workers")")) << NatsServerProcess::Version();
  }
  // accounts=true (kedacore/keda#8166's fix) brings the consumer back on every version.
  const auto fixed =
      HttpGet(nats_->monitoring_port(), "/jsz?acc=%24G&accounts=true&consumers=true&config=true");
  ASSERT_EQ(fixed.status, 200) << fixed.body;
  EXPECT_THAT(fixed.body, HasSubstr(R"("workers")")) << NatsServerProcess::Version();
}

// info_queue_limit 1: every JetStream INFO request (CONSUMER.INFO, STREAM.INFO, $JS.API.INFO)
// is dropped on arrival, unanswered, with a LIMIT_REACHED advisory; other API requests (stream
// and consumer creation) use the request queue and go through.
class NatsApiLimitTest : public NatsCompatibilityTest {
 protected:
  void SetUp() override {
    if (!NatsServerProcess::VersionAtLeast(2, 14, 0)) {
      GTEST_SKIP() << "info_queue_limit needs nats-server 2.14+; this run uses "
                   << NatsServerProcess::Version();
    }
    NatsCompatibilityTest::SetUp();
  }
  std::string ExtraConfig() const override { return "jetstream { info_queue_limit: 1 }\n"; }
};

TEST_F(NatsApiLimitTest, ADroppedConsumerInfoIsUnavailableWithinTheDeadlineAndAdvised) {
  ApiLimitAdvisories advisories(SystemAccountUrl(nats_->port()));
  ASSERT_TRUE(advisories.ok()) << "could not subscribe as the system user";

  CreateStream("LIM", "lim.>", "workers");
  ASSERT_TRUE(admin_->Publish("lim.x", 4).ok());
  StartScaler([](app::Config& c) {
    c.request_timeout = std::chrono::milliseconds(500);
    c.lag_cache_ttl = std::chrono::milliseconds(0);  // every call its own CONSUMER.INFO
  });
  // KEDA allows 3 s; an unanswered read must end as the scaler's own UNAVAILABLE (its request
  // deadline), not the client's DEADLINE_EXCEEDED, and never as a made-up value. Whether one
  // request is dropped depends on the server's queue at that instant (a request the worker
  // already took is answered, with the true lag), so each answer is one of the two, and the
  // drops are awaited over up to 20 calls.
  int unavailable = 0;
  for (int i = 0; i < 20 && unavailable < 2; ++i) {
    auto value = client_->GetMetrics(Md("LIM", "workers"), "");
    if (value.ok()) {
      EXPECT_EQ(value->value, 4) << "an answered request gives the true lag";
      continue;
    }
    EXPECT_EQ(value.status().code(), core::StatusCode::kUnavailable) << value.status().ToString();
    EXPECT_THAT(value.status().message(), HasSubstr("did not answer within the request deadline"));
    ++unavailable;
  }
  EXPECT_EQ(unavailable, 2) << "no request was dropped in 20 calls";
  // The drops were the server's queue limit (advisories), not a lost connection.
  EXPECT_TRUE(WaitFor([&] { return advisories.advisories() >= 2; }))
      << "LIMIT_REACHED advisories: " << advisories.advisories();
  EXPECT_GE(advisories.dropped(), 2);
}

}  // namespace
}  // namespace jss::testing
