#include "push_event_log.h"

#include <fmt/format.h>

#include "jss/core/base/strings.h"

namespace jss::server {

PushEventLog::PushEventLog(core::PushObserver& metrics,
                           std::shared_ptr<logging::Logger> logger)
    : metrics_(metrics), logger_(std::move(logger)) {}

void PushEventLog::OnWatchers(size_t watchers, size_t subscribers) {
  metrics_.OnWatchers(watchers, subscribers);
}

void PushEventLog::OnWakeup() { metrics_.OnWakeup(); }

void PushEventLog::OnWakeupFollowUp(const core::ConsumerKey& key, int attempt) {
  metrics_.OnWakeupFollowUp(key, attempt);
  // Debug only: bounded per wake-up, but a normal event on nats-server 2.10+.
  logger_->Debug("push wake-up read showed no new work; reading again",
                 {{"connection", key.connection},
                  {"stream", key.stream},
                  {"consumer", key.consumer},
                  {"attempt", fmt::format("{}", attempt)}});
}

void PushEventLog::OnWakeupSubscriptions(int delta) { metrics_.OnWakeupSubscriptions(delta); }

void PushEventLog::OnReadFailed(const core::ConsumerKey& key, std::string_view reason,
                                const core::Status& status, bool first) {
  metrics_.OnReadFailed(key, reason, status, first);
  if (!first || !Admit()) return;
  logger_->Warn("push watcher read failed; retrying with back-off, its streams stay open",
                {{"connection", key.connection},
                 {"stream", key.stream},
                 {"consumer", key.consumer},
                 {"reason", reason},
                 {"error", status.message()}});
}

void PushEventLog::OnReadRecovered(const core::ConsumerKey& key) {
  metrics_.OnReadRecovered(key);
  if (!Admit()) return;
  logger_->Info("push watcher reads again (or is no longer watched)",
                {{"connection", key.connection},
                 {"stream", key.stream},
                 {"consumer", key.consumer}});
}

void PushEventLog::OnPollingFallback(size_t watchers) { metrics_.OnPollingFallback(watchers); }

void PushEventLog::OnWakeupDenied(const core::ConsumerKey& key, const std::string& subject) {
  metrics_.OnWakeupDenied(key, subject);
  if (!Admit()) return;
  logger_->Warn(
      "NATS refused a push wake-up subscription (no subscribe permission); polling this "
      "consumer every pushInterval instead. Grant subscribe on its subjects or set "
      "--push-wakeup=false",
      {{"connection", key.connection},
       {"stream", key.stream},
       {"consumer", key.consumer},
       {"subject", subject}});
}

bool PushEventLog::Admit() {
  int dropped = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    if (now - window_start_ >= kWindow) {
      window_start_ = now;
      in_window_ = 0;
      dropped = suppressed_;
      suppressed_ = 0;
    }
    if (in_window_ >= kBurst) {
      ++suppressed_;
      return false;
    }
    ++in_window_;
  }
  if (dropped > 0) {
    logger_->Warn(
        "push watcher log lines were suppressed (rate limit); see "
        "jetstream_scaler_push_failing_watchers",
        {{"suppressed", fmt::format("{}", dropped)}});
  }
  return true;
}

}  // namespace jss::server
