#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "jss/core/base/status.h"
#include "jss/core/trigger/consumer_key.h"

namespace jss::core {

// Hooks for metrics/logs; may be called from any thread.
class PushObserver {
 public:
  virtual ~PushObserver() = default;
  virtual void OnWatchers(size_t watchers, size_t subscribers) = 0;
  virtual void OnWakeup() = 0;
  // Wake-up subscriptions (one per subject of an idle watched consumer)
  // opened (+n) or closed (-n).
  virtual void OnWakeupSubscriptions(int delta) = 0;
  // A watcher read failed with an error worth retrying (the streams stay
  // open); `first` when the watcher was fine until now. `reason` is a short
  // stable token (unavailable, not_found, resource_exhausted, deadline, other).
  virtual void OnReadFailed(const ConsumerKey& key, std::string_view reason,
                            const Status& status, bool first) = 0;
  // A watcher whose reads were failing read successfully again, or is no
  // longer watched.
  virtual void OnReadRecovered(const ConsumerKey& key) = 0;
  // Idle watchers polled every pushInterval because their wake-up is off or
  // unavailable (the polling fallback).
  virtual void OnPollingFallback(size_t watchers) = 0;
  // NATS refused a wake-up subscription to `subject` of `key` (no subscribe
  // permission): that watcher polls instead.
  virtual void OnWakeupDenied(const ConsumerKey& key, const std::string& subject) {
    (void)key;
    (void)subject;
  }
  // A wake-up read of `key` showed the lag it had before the publish, so the
  // consumer is read once more (`attempt` 1..kWakeFollowUps): the server
  // tells subscribers of a publish before its stream has stored it.
  virtual void OnWakeupFollowUp(const ConsumerKey& key, int attempt) {
    (void)key;
    (void)attempt;
  }
};

}  // namespace jss::core
