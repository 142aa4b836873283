#pragma once

#include <chrono>
#include <memory>
#include <mutex>

#include "jss/core/push/push_hub.h"
#include "jss/logging/logger.h"

namespace jss::server {

// Push watchers' events for metrics and logs. Since a failing read no longer
// ends KEDA's stream, this is where an SRE sees it: every event reaches the
// metrics; a consumer starting or stopping to fail is also logged, at most
// kBurst lines per kWindow (the rest are counted and the count is logged), so
// an outage that touches thousands of consumers cannot flood the log.
class PushEventLog final : public core::PushObserver {
 public:
  static constexpr int kBurst = 20;
  static constexpr std::chrono::seconds kWindow{60};

  PushEventLog(core::PushObserver& metrics, std::shared_ptr<logging::Logger> logger);

  void OnWatchers(size_t watchers, size_t subscribers) override;
  void OnWakeup() override;
  void OnWakeupFollowUp(const core::ConsumerKey& key, int attempt) override;
  void OnWakeupSubscriptions(int delta) override;
  void OnReadFailed(const core::ConsumerKey& key, std::string_view reason,
                    const core::Status& status, bool first) override;
  void OnReadRecovered(const core::ConsumerKey& key) override;
  void OnPollingFallback(size_t watchers) override;
  void OnWakeupDenied(const core::ConsumerKey& key, const std::string& subject) override;

 private:
  // True if a line may be written now; logs how many were dropped before.
  bool Admit();

  core::PushObserver& metrics_;
  std::shared_ptr<logging::Logger> logger_;
  std::mutex mu_;
  std::chrono::steady_clock::time_point window_start_{};
  int in_window_ = 0;
  int suppressed_ = 0;
};

}  // namespace jss::server
