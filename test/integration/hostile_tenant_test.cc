// Tenants (anyone who can create a ScaledObject, or reach the gRPC port)
// choosing names and sizes on purpose: what they cost the scaler is bounded.
#include <fstream>
#include <iostream>

#include "gmock/gmock.h"
#include "integration/scaler_fixture.h"

namespace jss::testing {
namespace {

using ::testing::HasSubstr;

int SampleLines(const std::string& exposition) {
  int n = 0;
  size_t start = 0;
  while (start < exposition.size()) {
    size_t end = exposition.find('\n', start);
    if (end == std::string::npos) end = exposition.size();
    if (end > start && exposition[start] != '#') ++n;
    start = end + 1;
  }
  return n;
}


class HostileTenantTest : public ScalerFixture {};

TEST_F(HostileTenantTest, ReadsOfMissingConsumersAddFewSeriesAndLittleMemory) {
  CreateStream("REAL", "real.>", "w");
  StartScaler();
  ASSERT_EQ(client_->GetMetrics(Md("REAL", "warm-up"), "").status().code(),
            core::StatusCode::kNotFound);
  const int series_before = SampleLines(Metrics());
  const long rss_before = VmRssKib();
#if defined(__SANITIZE_THREAD__)
  // TSan makes each call ~20x dearer: 5,000 took 116 s of the 120 s a test may
  // take on a quiet CI machine. 1,000 reads still show that series do not
  // follow the number of consumers a tenant names (the bound below is 100).
  constexpr int kReads = 1000;
#else
  constexpr int kReads = 5000;
#endif
  for (int i = 0; i < kReads; ++i) {
    const std::string consumer = "missing-" + std::to_string(i) + std::string(180, 'm');
    auto value = client_->GetMetrics(Md("REAL", consumer), "");
    ASSERT_EQ(value.status().code(), core::StatusCode::kNotFound) << value.status().ToString();
  }
  const int series_added = SampleLines(Metrics()) - series_before;
  const long rss_added_kib = VmRssKib() - rss_before;
  std::cout << "[ measured ] " << kReads << " reads of missing consumers: +" << series_added
            << " series, +" << rss_added_kib / 1024 << " MiB RSS (test process)\n";
  EXPECT_LE(series_added, 100);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  // ASan's quarantine and TSan's shadow memory grow RSS whatever we allocate;
  // the memory bound is checked in the plain build only.
  EXPECT_LE(rss_added_kib, 24 * 1024);
#endif
}

TEST_F(HostileTenantTest, HugeValuesAreEchoedCutShort) {
  StartScaler([&](app::Config& c) {
    c.connections = {{"default", {nats_->url()}, false}, {"eu", {nats_->url()}, true}};
  });
  const std::string huge(60 * 1024, 'v');
  for (const auto& key : {"account", "natsUrl", "lagThreshold", "stream"}) {
    auto md = Md("S", "c");
    md[key] = huge;
    auto active = client_->IsActive(md);  // parses metadata and selects the connection
    ASSERT_EQ(active.status().code(), core::StatusCode::kInvalidArgument)
        << key << ": " << active.status().ToString().substr(0, 200);
    EXPECT_LT(active.status().message().size(), 600u) << key << " was echoed whole";
    EXPECT_THAT(active.status().message(), HasSubstr("(61440 bytes)")) << key;
  }
}

TEST_F(HostileTenantTest, ErrorsToTenantsDoNotRevealServerUrls) {
  SilentTcpServer silent;
  const std::string url = "nats://127.0.0.1:" + std::to_string(silent.port());
  StartScaler([&](app::Config& c) { c.connections = {{"default", {url}, false}}; });
  auto active = client_->IsActive(Md("ANY", "w"));
  ASSERT_EQ(active.status().code(), core::StatusCode::kUnavailable);
  EXPECT_THAT(active.status().message(), HasSubstr("\"default\" is not connected"));
  EXPECT_THAT(active.status().message(), ::testing::Not(HasSubstr("127.0.0.1")))
      << "an internal URL went to the tenant";
}

TEST_F(HostileTenantTest, RequestsBeyondTheReceiveLimitAreRefusedAndTheScalerCarriesOn) {
  CreateStream("REAL", "real.>", "w");
  StartScaler();
  auto md = Md("REAL", "w");
  md["padding"] = std::string(1 << 20, 'p');
  auto refused = client_->GetMetricSpec(md);
  EXPECT_EQ(refused.status().code(), core::StatusCode::kResourceExhausted)
      << refused.status().ToString().substr(0, 200);
  EXPECT_TRUE(client_->GetMetrics(Md("REAL", "w"), "").ok());
}

}  // namespace
}  // namespace jss::testing

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "jss/metrics/http_server.h"

namespace jss::testing {
namespace {

// Clients of the metrics port that send a request one header line at a time
// (slow-loris) hold its workers; liveness and readiness must still answer.
TEST(SlowLorisTest, ProbesAnswerWhileTheMetricsPortIsHeldByDribblingClients) {
  auto http = metrics::HttpServer::Start(
      "127.0.0.1:0", std::make_shared<prometheus::Registry>(), [] { return true; },
      [] { return true; }, "127.0.0.1:0");
  ASSERT_TRUE(http.ok()) << http.status().ToString();
  ASSERT_NE((*http)->probe_port(), 0);
  std::vector<int> dribblers;
  for (int i = 0; i < 40; ++i) {
    const int fd = ConnectLoopback((*http)->port());
    ASSERT_GE(fd, 0);
    send(fd, "GET /metrics HTTP/1.1\r\n", 23, MSG_NOSIGNAL);
    dribblers.push_back(fd);
  }
  for (int round = 0; round < 5; ++round) {
    for (int fd : dribblers) send(fd, "X-Slow: 1\r\n", 11, MSG_NOSIGNAL);
    EXPECT_EQ(HttpGet((*http)->probe_port(), "/healthz").status, 200) << "round " << round;
    EXPECT_EQ(HttpGet((*http)->probe_port(), "/readyz").status, 200) << "round " << round;
  }
  for (int fd : dribblers) close(fd);
}

}  // namespace
}  // namespace jss::testing
