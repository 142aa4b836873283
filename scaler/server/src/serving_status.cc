#include "serving_status.h"

#include <grpcpp/health_check_service_interface.h>

#include <utility>

namespace jss::server {

ServingStatus::ServingStatus(grpc::HealthCheckServiceInterface& health,
                             core::Scheduler& scheduler, std::function<bool()> ready,
                             std::chrono::milliseconds interval,
                             std::shared_ptr<logging::Logger> logger,
                             std::function<void(std::chrono::steady_clock::duration)>
                                 on_not_ready_for)
    : health_(&health),
      scheduler_(scheduler),
      ready_(std::move(ready)),
      interval_(interval),
      logger_(std::move(logger)),
      on_not_ready_for_(std::move(on_not_ready_for)) {}

void ServingStatus::Start() {
  health_->SetServingStatus("", true);
  Check();
}

void ServingStatus::Rebind(grpc::HealthCheckServiceInterface& health) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopped_) return;
  health_ = &health;
  health_->SetServingStatus("", true);
  if (known_) health_->SetServingStatus(kExternalScalerServiceName, serving_);
}

void ServingStatus::Stop() {
  std::lock_guard<std::mutex> lock(mu_);
  stopped_ = true;
}

void ServingStatus::Check() {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopped_) return;
  const bool serving = ready_();
  const auto now = std::chrono::steady_clock::now();
  if (!known_ || serving != serving_) {
    // Only changes reach gRPC: Watch streams get exactly one message per flip.
    health_->SetServingStatus(kExternalScalerServiceName, serving);
    if (known_) {
      if (serving) {
        logger_->Info("gRPC health: SERVING again (NATS usable)",
                      {{"service", kExternalScalerServiceName}});
      } else {
        logger_->Warn("gRPC health: NOT_SERVING (a NATS connection is down)",
                      {{"service", kExternalScalerServiceName}});
      }
    }
    if (!serving) not_ready_since_ = now;
    known_ = true;
    serving_ = serving;
  }
  if (on_not_ready_for_) {
    on_not_ready_for_(serving ? std::chrono::steady_clock::duration::zero()
                              : now - not_ready_since_);
  }
  scheduler_.RunAfter(interval_, [this] { Check(); });
}

}  // namespace jss::server
