// The `rpc failed` log line names the consumer a refused call asked for, also when it was
// refused before the metadata was fully accepted (bad values, access policy).
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include "gmock/gmock.h"
#include "integration/scaler_fixture.h"
#include "spdlog/sinks/base_sink.h"
#include "support/test_util.h"

namespace jss::testing {
namespace {

using ::testing::HasSubstr;

// Keeps every formatted line; read under the sink's own lock (the scaler logs from its
// gRPC threads).
class CaptureSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::string Text() {
    std::lock_guard<std::mutex> lock(mutex_);
    return text_;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t buf;
    formatter_->format(msg, buf);
    text_.append(buf.data(), buf.size());
  }
  void flush_() override {}

 private:
  std::string text_;
};

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

TEST_F(RpcLogTest, ForgedScaledObjectNamesAreCutInTheLogLine) {
  StartScaler();
  // Longer than any Kubernetes name can be; KEDA never sends these, a forger may.
  const std::string name = "huge-" + std::string(20000, 'n');
  const std::string ns = "ns-" + std::string(20000, 's');
  auto spec = client_->GetMetricSpec(Md("ORDERS", "workers", {{"lagThreshold", "10abc"}}), name,
                                     ns);
  ASSERT_EQ(spec.status().code(), core::StatusCode::kInvalidArgument);
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
  // Cut at Kubernetes' limits (253 for a name, 63 for a namespace), sizes kept.
  EXPECT_THAT(line, HasSubstr("\"scaledobject\":\"huge-" + std::string(248, 'n') +
                              "...(20005 bytes)\""));
  EXPECT_THAT(line,
              HasSubstr("\"namespace\":\"ns-" + std::string(60, 's') + "...(20003 bytes)\""));

  // A real (maximal) Kubernetes name is logged whole.
  const std::string real = std::string(253, 'r');
  auto ok_len = client_->GetMetricSpec(Md("ORDERS", "workers", {{"lagThreshold", "10abc"}}), real,
                                       std::string(63, 'q'));
  ASSERT_EQ(ok_len.status().code(), core::StatusCode::kInvalidArgument);
  const std::string whole = FailedLine(real);
  EXPECT_THAT(whole, HasSubstr("\"namespace\":\"" + std::string(63, 'q') + "\""));
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
