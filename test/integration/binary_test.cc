// The jetstream-scaler binary itself: flags, exit codes, signals, secrets.
#include <signal.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "gmock/gmock.h"
#include "jss/tools/jetstream_admin.h"
#include "jss/tools/keda_client.h"
#include "support/nats_server_process.h"
#include "support/test_util.h"

namespace jss::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(BinaryTest, VersionAndHelpExitZero) {
  ChildProcess version({JSS_SCALER_BIN, "--version"});
  EXPECT_EQ(version.Wait(), 0);
  EXPECT_THAT(version.Output(), HasSubstr("jetstream-scaler "));
  ChildProcess help({JSS_SCALER_BIN, "--help"});
  EXPECT_EQ(help.Wait(), 0);
  EXPECT_THAT(help.Output(), HasSubstr("--nats-url"));
  EXPECT_THAT(help.Output(), HasSubstr("JETSTREAM_SCALER_REQUEST_TIMEOUT"));
}

TEST(BinaryTest, PrintsTheMetadataKeysItReads) {
  ChildProcess keys({JSS_SCALER_BIN, "--print-metadata-keys"});
  EXPECT_EQ(keys.Wait(), 0);
  EXPECT_THAT(keys.Output(), HasSubstr("stream\nconsumer\nlagThreshold\n"));
}

struct BadStart {
  const char* name;
  std::vector<std::string> args;
  std::vector<std::string> env;
  const char* message;
};

class BinaryRejectsTest : public ::testing::TestWithParam<BadStart> {};

TEST_P(BinaryRejectsTest, ExitsNonZeroWithAMessage) {
  std::vector<std::string> argv = {JSS_SCALER_BIN};
  argv.insert(argv.end(), GetParam().args.begin(), GetParam().args.end());
  ChildProcess p(argv, GetParam().env);
  EXPECT_EQ(p.Wait(), 2) << p.Output();
  EXPECT_THAT(p.Output(), HasSubstr(GetParam().message));
}

INSTANTIATE_TEST_SUITE_P(
    Table, BinaryRejectsTest,
    ::testing::Values(
        BadStart{"unknown_flag", {"--nats"}, {}, "unknown flag --nats"},
        BadStart{"bad_env", {}, {"JETSTREAM_SCALER_LOG_FORMAT=yaml"}, "--log-format"},
        BadStart{"secret_on_cli", {"--nats-token", "hunter2"}, {}, "not accepted on the command line"},
        BadStart{"bad_duration", {"--request-timeout", "soon"}, {}, "--request-timeout"}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(BinaryTest, UnusableListenAddressExitsNonZero) {
  ChildProcess p({JSS_SCALER_BIN, "--grpc-address", "127.0.0.1:0", "--metrics-address",
                  "256.1.1.1:80", "--nats-url", "nats://127.0.0.1:1"});
  EXPECT_EQ(p.Wait(), 1) << p.Output();
  EXPECT_THAT(p.Output(), HasSubstr("--metrics-address"));
}

// gRPC listens with SO_REUSEPORT, so a second scaler on the same address used to start and
// take half of KEDA's connections (issue 21 item 5). It must refuse to start instead.
TEST(BinaryTest, ASecondScalerOnTheSameGrpcAddressExitsOne) {
  const std::string address = "127.0.0.1:" + std::to_string(PickFreePort());
  const std::string nats = "nats://127.0.0.1:" + std::to_string(PickFreePort());
  const int first_metrics = PickFreePort();
  ChildProcess first({JSS_SCALER_BIN, "--grpc-address", address, "--metrics-address",
                      "127.0.0.1:" + std::to_string(first_metrics), "--nats-url", nats});
  ASSERT_TRUE(WaitFor([&] { return HttpGet(first_metrics, "/healthz").status == 200; }))
      << first.Output();
  ChildProcess second({JSS_SCALER_BIN, "--grpc-address", address, "--metrics-address",
                       "127.0.0.1:" + std::to_string(PickFreePort()), "--nats-url", nats});
  EXPECT_EQ(second.Wait(), 1) << second.Output();
  EXPECT_THAT(second.Output(), HasSubstr("--grpc-address \"" + address + "\""));
  EXPECT_THAT(second.Output(), HasSubstr("already in use"));
  // The first one keeps serving.
  EXPECT_EQ(HttpGet(first_metrics, "/healthz").status, 200);
  first.Signal(SIGTERM);
  EXPECT_EQ(first.Wait(), 0) << first.Output();
}

TEST(BinaryTest, ServesFromEnvironmentConfigAndDrainsOnSigterm) {
  const std::string token = "tok-3f9a1c77e2";
  std::string error;
  NatsServerProcess::Options opts;
  opts.token = token;
  auto nats = NatsServerProcess::Start(opts, &error);
  ASSERT_NE(nats, nullptr) << error;
  const std::string authed_url = "nats://" + token + "@127.0.0.1:" + std::to_string(nats->port());
  {
    auto admin = tools::JetStreamAdmin::Connect(authed_url);
    ASSERT_TRUE(admin.ok()) << admin.status().ToString();
    ASSERT_TRUE((*admin)->AddStream({"BIN", {"bin.>"}}).ok());
    ASSERT_TRUE((*admin)->AddConsumer({"BIN", "w", ""}).ok());
    ASSERT_TRUE((*admin)->Publish("bin.x", 3).ok());
  }
  const int grpc_port = PickFreePort();
  const int metrics_port = PickFreePort();
  ChildProcess scaler({JSS_SCALER_BIN, "--log-level", "trace", "--log-format", "json"},
                      {"JETSTREAM_SCALER_NATS_URL=" + nats->url(),
                       "JETSTREAM_SCALER_NATS_TOKEN=" + token,
                       "JETSTREAM_SCALER_GRPC_ADDRESS=127.0.0.1:" + std::to_string(grpc_port),
                       "JETSTREAM_SCALER_METRICS_ADDRESS=127.0.0.1:" + std::to_string(metrics_port)});
  ASSERT_TRUE(WaitFor([&] { return HttpGet(metrics_port, "/readyz").status == 200; }))
      << scaler.Output();

  tools::KedaClient client("127.0.0.1:" + std::to_string(grpc_port));
  std::map<std::string, std::string> md = {{"stream", "BIN"}, {"consumer", "w"}};
  auto value = client.GetMetrics(md, "");
  ASSERT_TRUE(value.ok()) << value.status().ToString();
  EXPECT_EQ(value->value, 3);
  EXPECT_FALSE(client.GetMetrics({{"stream", "BIN"}, {"consumer", "ghost"}}, "").ok());
  const std::string metrics = HttpGet(metrics_port, "/metrics").body;

  scaler.Signal(SIGTERM);
  EXPECT_EQ(scaler.Wait(), 0) << scaler.Output();
  const std::string logs = scaler.Output();
  EXPECT_THAT(logs, HasSubstr("\"msg\":\"rpc ok\""));        // trace logs were on
  EXPECT_THAT(logs, HasSubstr("\"scaledobject\":\"demo\""));  // with request fields
  EXPECT_THAT(logs, HasSubstr("signal received"));
  EXPECT_THAT(logs, Not(HasSubstr(token)));
  EXPECT_THAT(metrics, Not(HasSubstr(token)));
}

TEST(BinaryTest, GrpcCoreLogLinesAreJsonToo) {
  char tmpl[] = "/tmp/jss-bin-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  ASSERT_EQ(std::system(("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
                         "-nodes -days 1 -subj /CN=localhost -keyout " + dir + "/key.pem -out " +
                         dir + "/cert.pem >/dev/null 2>&1")
                            .c_str()),
            0);
  const int grpc_port = PickFreePort();
  const int metrics_port = PickFreePort();
  ChildProcess scaler({JSS_SCALER_BIN, "--log-format", "json", "--grpc-address",
                       "127.0.0.1:" + std::to_string(grpc_port), "--metrics-address",
                       "127.0.0.1:" + std::to_string(metrics_port), "--grpc-tls-cert",
                       dir + "/cert.pem", "--grpc-tls-key", dir + "/key.pem", "--nats-url",
                       "nats://127.0.0.1:" + std::to_string(PickFreePort())});
  ASSERT_TRUE(WaitFor([&] { return HttpGet(metrics_port, "/healthz").status != 0; }))
      << scaler.Output();
  // A plaintext client makes gRPC core log a failed TLS handshake.
  tools::KedaClient plaintext("127.0.0.1:" + std::to_string(grpc_port));
  EXPECT_FALSE(plaintext.GetMetricSpec({{"stream", "S"}, {"consumer", "c"}}).ok());
  EXPECT_TRUE(WaitFor([&] { return scaler.Output().find("\"msg\":\"grpc core\"") !=
                                   std::string::npos; }))
      << scaler.Output();
  scaler.Signal(SIGTERM);
  EXPECT_EQ(scaler.Wait(), 0);
  std::istringstream lines(scaler.Output());
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    EXPECT_EQ(line.front(), '{') << "not a JSON line: " << line;
    EXPECT_EQ(line.back(), '}') << "not a JSON line: " << line;
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace jss::testing
