#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "externalscaler.grpc.pb.h"
#include "jss/core/base/status.h"

namespace jss::tools {

struct MetricSpecAnswer {
  std::string metric_name;
  int64_t target_size = 0;
  double target_size_float = 0;
};

struct MetricValueAnswer {
  std::string metric_name;
  int64_t value = 0;
  double value_float = 0;
};

// Calls the ExternalScaler the way KEDA does (same messages, a deadline on
// every call). Used by the demo, integration tests and benchmarks.
class KedaClient {
 public:
  explicit KedaClient(const std::string& address,
                      std::chrono::milliseconds deadline = std::chrono::milliseconds(3000));

  core::StatusOr<MetricSpecAnswer> GetMetricSpec(const std::map<std::string, std::string>& md,
                                                 const std::string& name = "demo",
                                                 const std::string& ns = "default");
  core::StatusOr<MetricValueAnswer> GetMetrics(const std::map<std::string, std::string>& md,
                                               const std::string& metric_name,
                                               const std::string& name = "demo",
                                               const std::string& ns = "default");
  core::StatusOr<bool> IsActive(const std::map<std::string, std::string>& md,
                                const std::string& name = "demo",
                                const std::string& ns = "default");

  externalscaler::ExternalScaler::Stub& stub() { return *stub_; }

 private:
  void Prepare(grpc::ClientContext& ctx) const;
  std::chrono::milliseconds deadline_;
  std::unique_ptr<externalscaler::ExternalScaler::Stub> stub_;
};

externalscaler::ScaledObjectRef MakeRef(const std::map<std::string, std::string>& md,
                                        const std::string& name, const std::string& ns);

}  // namespace jss::tools
