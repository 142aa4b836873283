#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>

#include "jss/core/base/scheduler.h"
#include "jss/logging/logger.h"

namespace grpc {
class HealthCheckServiceInterface;
}

namespace jss::server {

// The name KEDA's calls are served under; grpc.health.v1 reports it
// SERVING only while NATS is usable.
inline constexpr const char* kExternalScalerServiceName = "externalscaler.ExternalScaler";

// Keeps grpc.health.v1 in step with NATS: service "" is SERVING while the
// process runs (liveness); `externalscaler.ExternalScaler` is SERVING only
// while `ready()` holds (the same condition as /readyz), re-checked every
// `interval`. Changes are pushed to Watch callers at once and logged.
// `on_not_ready_for` (optional) is told, on every check, how long the
// service has been NOT_SERVING without a break (zero while SERVING).
class ServingStatus {
 public:
  ServingStatus(grpc::HealthCheckServiceInterface& health, core::Scheduler& scheduler,
                std::function<bool()> ready, std::chrono::milliseconds interval,
                std::shared_ptr<logging::Logger> logger,
                std::function<void(std::chrono::steady_clock::duration)> on_not_ready_for = {});

  // Checks once now and then every interval until Stop().
  void Start();
  // From now on reports to `health` (a replacement gRPC server's), starting with the
  // current state; the previous health service is not touched again.
  void Rebind(grpc::HealthCheckServiceInterface& health);
  // After this returns the health service is never touched again (call
  // before the gRPC server goes away; the object must outlive the scheduler).
  void Stop();

 private:
  void Check();

  grpc::HealthCheckServiceInterface* health_;
  core::Scheduler& scheduler_;
  std::function<bool()> ready_;
  std::chrono::milliseconds interval_;
  std::shared_ptr<logging::Logger> logger_;
  std::function<void(std::chrono::steady_clock::duration)> on_not_ready_for_;
  std::mutex mu_;
  bool stopped_ = false;
  bool known_ = false;
  bool serving_ = false;
  std::chrono::steady_clock::time_point not_ready_since_;
};

}  // namespace jss::server
