// The `rpc failed` log line names the consumer a refused call asked for, also when it was
// refused before the metadata was fully accepted (bad values, access policy).
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include "gmock/gmock.h"
#include "integration/scaler_fixture.h"
#include "support/capture_sink.h"
#include "support/test_util.h"

namespace jss::testing {
namespace {

using ::testing::HasSubstr;

class RpcLogTest : public ScalerFixture {
 protected:
  void SetUp() override {
    ScalerFixture::SetUp();
    auto logger = std::make_shared<spdlog::logger>("test", capture_);
    logger->set_level(spdlog::level::info);
    logger_ = std::make_shared<logging::Logger>(logger, logging::Format::kJson);
  }

  void TearDown() override {
    ScalerFixture::TearDown();
    if (!policy_dir_.empty()) std::filesystem::remove_all(policy_dir_);
  }

  std::string WritePolicy(const std::string& json) {
    policy_dir_ = std::filesystem::temp_directory_path() /
                  ("jss-rpc-log-" + std::to_string(::getpid()));
    std::filesystem::create_directories(policy_dir_);
    const std::string path = policy_dir_ / "policy.json";
    std::ofstream(path) << json;
    return path;
  }

  // The logged line of the failed call with this ScaledObject name.
  std::string FailedLine(const std::string& scaledobject) {
    std::string found;
    WaitFor([&] {
      std::istringstream lines(Logs());
      for (std::string line; std::getline(lines, line);) {
        if (line.find("\"msg\":\"rpc failed\"") != std::string::npos &&
            line.find("\"scaledobject\":\"" + scaledobject + "\"") != std::string::npos) {
          found = line;
          return true;
        }
      }
      return false;
    });
    return found;
  }

  std::string Logs() { return capture_->Text(); }

  std::shared_ptr<CaptureSink> capture_ = std::make_shared<CaptureSink>();
  std::filesystem::path policy_dir_;
};

TEST_F(RpcLogTest, BadMetadataIsLoggedWithTheStreamAndConsumerItNamed) {
  CreateStream("ORDERS", "orders.>", "workers");
  StartScaler();
  auto spec = client_->GetMetricSpec(Md("ORDERS", "workers", {{"lagThreshold", "10abc"}}),
                                     "bad-threshold", "shop");
  ASSERT_EQ(spec.status().code(), core::StatusCode::kInvalidArgument);
  const std::string line = FailedLine("bad-threshold");
  EXPECT_THAT(line, HasSubstr("\"stream\":\"ORDERS\""));
  EXPECT_THAT(line, HasSubstr("\"consumer\":\"workers\""));
  EXPECT_THAT(line, HasSubstr("\"code\":\"INVALID_ARGUMENT\""));

  // A name that is itself invalid is logged as given (JSON-escaped), cut at 255 bytes.
  auto bad = client_->GetMetrics(Md(std::string(300, 'x'), "a.b"), "", "bad-names", "shop");
  ASSERT_EQ(bad.status().code(), core::StatusCode::kInvalidArgument);
  const std::string bad_line = FailedLine("bad-names");
  EXPECT_THAT(bad_line, HasSubstr("\"stream\":\"" + std::string(255, 'x') + "\""));
  EXPECT_THAT(bad_line, HasSubstr("\"consumer\":\"a.b\""));
}

TEST_F(RpcLogTest, ForgedScaledObjectNamesAreRefusedAndLoggedAsAShortPreview) {
  StartScaler();
  // Longer than any Kubernetes name can be; KEDA never sends these, a forger may.
  const std::string name = "huge-" + std::string(20000, 'n');
  const std::string ns = "ns-" + std::string(20000, 's');
  auto spec = client_->GetMetricSpec(Md("ORDERS", "workers"), name, ns);
  ASSERT_EQ(spec.status().code(), core::StatusCode::kInvalidArgument);
  EXPECT_THAT(spec.status().message(), HasSubstr("ScaledObjectRef.namespace"));
  std::string line;
  ASSERT_TRUE(WaitFor([&] {
    std::istringstream lines(Logs());
    for (std::string l; std::getline(lines, l);) {
      if (l.find("\"msg\":\"rpc failed\"") != std::string::npos &&
          l.find("\"scaledobject\":\"huge-") != std::string::npos) {
        line = l;
        return true;
      }
    }
    return false;
  }));
  EXPECT_LT(line.size(), 1024u) << "a forged name set the size of the log line";
  // The same 32-byte preview the error quotes, sizes kept.
  EXPECT_THAT(line, HasSubstr("\"scaledobject\":\"huge-" + std::string(27, 'n') +
                              "...(20005 bytes)\""));
  EXPECT_THAT(line,
              HasSubstr("\"namespace\":\"ns-" + std::string(29, 's') + "...(20003 bytes)\""));

  // A real (maximal) Kubernetes name is logged whole.
  const std::string real = std::string(253, 'r');
  auto ok_len = client_->GetMetricSpec(Md("ORDERS", "workers", {{"lagThreshold", "10abc"}}), real,
                                       std::string(63, 'q'));
  ASSERT_EQ(ok_len.status().code(), core::StatusCode::kInvalidArgument);
  EXPECT_THAT(ok_len.status().message(), HasSubstr("lagThreshold"));
  const std::string whole = FailedLine(real);
  EXPECT_THAT(whole, HasSubstr("\"namespace\":\"" + std::string(63, 'q') + "\""));
}

// Issue 21 item 3: with a policy, every denied namespace was a new
// policy_denials_total series holding the whole forged value (600 calls of
// 60 KB: /metrics 3 KB -> 36 MB). A namespace or name Kubernetes could not
// have is refused first: no series, no log line, no echo holds it.
TEST_F(RpcLogTest, ForgedNamespacesAreRefusedBeforeThePolicyAMetricOrALog) {
  CreateStream("ORDERS", "orders.>", "workers");
  const std::string policy = WritePolicy(R"({"rules": [{"namespaces": ["shop"]}]})");
  StartScaler([&](app::Config& c) { c.policy_file = policy; });
  const size_t metrics_before = Metrics().size();
  constexpr int kCalls = 50;
  for (int i = 0; i < kCalls; ++i) {
    // Distinct each time, and each its own would-be series.
    const std::string forged = "f" + std::to_string(i) + "-" + std::string(60 * 1024, 'z');
    auto spec = client_->GetMetricSpec(Md("ORDERS", "workers"), "so", forged);
    ASSERT_EQ(spec.status().code(), core::StatusCode::kInvalidArgument)
        << spec.status().ToString().substr(0, 200);
    EXPECT_THAT(spec.status().message(), HasSubstr("ScaledObjectRef.namespace"));
    EXPECT_THAT(spec.status().message(), HasSubstr("DNS-1123 label"));
    EXPECT_LT(spec.status().message().size(), 400u) << "the namespace was echoed";
  }
  // Upper case, a dot, 64 bytes: each short, each still not a namespace.
  for (const std::string& forged : {std::string("Shop"), std::string("sh.op"),
                                    std::string(64, 'n')}) {
    EXPECT_EQ(client_->IsActive(Md("ORDERS", "workers"), "so", forged).status().code(),
              core::StatusCode::kInvalidArgument)
        << forged;
  }
  // A forged name is refused the same way, also in an allowed namespace.
  auto name = client_->IsActive(Md("ORDERS", "workers"), std::string(300, 'o'), "shop");
  EXPECT_EQ(name.status().code(), core::StatusCode::kInvalidArgument);
  EXPECT_THAT(name.status().message(), HasSubstr("ScaledObjectRef.name"));

  const std::string metrics = Metrics();
  EXPECT_EQ(metrics.find("policy_denials_total{"), std::string::npos)
      << "a refused namespace reached the policy's denial counter";
  EXPECT_EQ(metrics.find("zzzz"), std::string::npos);
  EXPECT_LT(metrics.size(), metrics_before + 8 * 1024) << "forged values grew /metrics";
  EXPECT_EQ(ScrapeValue(metrics, "jetstream_scaler_grpc_requests_total{code=\"INVALID_ARGUMENT\","
                                 "method=\"GetMetricSpec\"}"),
            kCalls);
  // Every refused call is logged (before its answer is sent), none with more
  // than a preview of its value.
  const std::string logs = Logs();
  EXPECT_EQ(logs.find(std::string(64, 'z')), std::string::npos) << "a forged value was logged";
  EXPECT_THAT(logs, HasSubstr("\"namespace\":\"f0-" + std::string(29, 'z') + "...(61443 bytes)\""));

  // A real namespace the policy does not name is still denied and counted.
  EXPECT_EQ(client_->IsActive(Md("ORDERS", "workers"), "so", "billing").status().code(),
            core::StatusCode::kPermissionDenied);
  EXPECT_EQ(ScrapeValue(Metrics(),
                        "jetstream_scaler_policy_denials_total{scaledobject_namespace=\"billing\"}"),
            1);
}

TEST_F(RpcLogTest, PolicyDenialIsLoggedWithTheStreamAndConsumerItAskedFor) {
  CreateStream("ORDERS", "orders.>", "workers");
  const std::string policy = WritePolicy(R"({"rules": [{"namespaces": ["shop"]}]})");
  StartScaler([&](app::Config& c) { c.policy_file = policy; });
  auto denied = client_->IsActive(Md("ORDERS", "workers"), "denied-so", "billing");
  ASSERT_EQ(denied.status().code(), core::StatusCode::kPermissionDenied);
  const std::string line = FailedLine("denied-so");
  EXPECT_THAT(line, HasSubstr("\"namespace\":\"billing\""));
  EXPECT_THAT(line, HasSubstr("\"stream\":\"ORDERS\""));
  EXPECT_THAT(line, HasSubstr("\"consumer\":\"workers\""));
  EXPECT_THAT(line, HasSubstr("\"code\":\"PERMISSION_DENIED\""));
}

}  // namespace
}  // namespace jss::testing
