#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "jss/core/clock.h"
#include "jss/core/lag_source.h"
#include "jss/core/scheduler.h"
#include "jss/core/status.h"

namespace jss::core {

// Tells the hub, as soon as possible, that a consumer may have new work (for
// example: a message was published on one of its subjects). Implementations
// may never call `on_activity` (wake-up unavailable); polling still works.
class WakeupSource {
 public:
  class Handle {
   public:
    virtual ~Handle() = default;  // stops watching
  };
  virtual ~WakeupSource() = default;
  virtual std::unique_ptr<Handle> Watch(const ConsumerKey& key,
                                        std::function<void()> on_activity) = 0;
};

// Hooks for metrics/logs; may be called from any thread.
class ActivityObserver {
 public:
  virtual ~ActivityObserver() = default;
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
};

// Shared watchers for push activation (KEDA's StreamIsActive). One watcher
// per consumer, however many streams subscribe: it reads the lag every
// interval (the smallest any subscriber asked for), and right away when the
// wake-up source fires, which it only listens to while some subscriber is
// inactive. Each subscriber is told its activity once at start and then only
// on change. An activity is only ever reported from a successful read: a
// read that fails with an error worth retrying (NATS unreachable or slow,
// overloaded, consumer not created yet) is retried with capped back-off while
// every stream stays open and hears nothing; only an error no retry can fix
// (INVALID_ARGUMENT, PERMISSION_DENIED) ends the subscriptions.
class ActivityHub {
 public:
  static constexpr std::chrono::milliseconds kMinWakeupGap{20};
  // Back-off between retries of a failing read: doubles from the first to
  // the cap, with jitter so that the watchers of a whole NATS outage do not
  // retry in lock step.
  static constexpr std::chrono::milliseconds kRetryFirst{500};
  static constexpr std::chrono::milliseconds kRetryCap{30000};
  using SubscriptionId = uint64_t;
  // An activity, or (exactly once, last) the end of the subscription: OK when
  // the hub shuts down, else the error that no retry can fix.
  struct Update {
    std::optional<bool> active;
    Status end;
  };
  using Listener = std::function<void(const Update&)>;
  // Errors that end a subscription instead of being retried.
  static bool IsTerminal(const Status& status);

  ActivityHub(LagSource& source, Scheduler& scheduler, const Clock& clock,
              WakeupSource* wakeups, std::chrono::milliseconds read_timeout,
              ActivityObserver* observer);
  ~ActivityHub();

  SubscriptionId Subscribe(const ConsumerKey& key, int64_t activation_lag_threshold,
                           std::chrono::milliseconds interval, Listener listener);
  // After this returns the listener is never called again.
  void Unsubscribe(SubscriptionId id);
  // Ends every subscription with OK (so KEDA reconnects at once, to another
  // replica, with its back-off reset) and stops all watchers.
  void Shutdown();

  size_t WatcherCount() const;

 private:
  struct Subscriber {
    int64_t threshold;
    std::chrono::milliseconds interval;
    std::shared_ptr<Listener> listener;
    std::optional<bool> last_sent;
  };
  struct Watcher {
    uint64_t generation;
    std::unordered_map<SubscriptionId, Subscriber> subscribers;
    std::optional<ConsumerLag> last_lag;
    bool read_in_flight = false;
    bool read_again = false;
    Scheduler::TaskId timer = 0;
    std::unique_ptr<WakeupSource::Handle> wakeup;
    // Wake-up reads are spaced by kMinWakeupGap so that a busy subject on a
    // consumer below its activation threshold cannot turn every publish into
    // a read; the first publish after a quiet spell is still read at once.
    std::chrono::steady_clock::time_point next_wakeup_read{};
    bool wakeup_timer_armed = false;  // a spaced wake-up read is scheduled
    int failures = 0;                 // consecutive failed reads
  };
  struct Delivery {
    SubscriptionId id;
    std::shared_ptr<Listener> listener;
    Update update;
  };

  void StartRead(const ConsumerKey& key, uint64_t generation);
  void OnRead(const ConsumerKey& key, uint64_t generation, const LagResult& result);
  void OnWake(const ConsumerKey& key, uint64_t generation);
  void ScheduleLocked(const ConsumerKey& key, Watcher& w);
  void ScheduleLocked(const ConsumerKey& key, Watcher& w, std::chrono::milliseconds delay);
  std::chrono::milliseconds IntervalLocked(const Watcher& w) const;
  void UpdateWakeupLocked(const ConsumerKey& key, Watcher& w);
  void ReportLocked();
  std::chrono::milliseconds RetryDelayLocked(int failures);
  void Deliver(std::vector<Delivery>& deliveries);

  LagSource& source_;
  Scheduler& scheduler_;
  const Clock& clock_;
  WakeupSource* wakeups_;
  const std::chrono::milliseconds read_timeout_;
  ActivityObserver* observer_;

  mutable std::mutex mu_;
  // Serialises listener calls against Unsubscribe, so that a subscriber that
  // has left is never called afterwards.
  std::recursive_mutex delivery_mu_;
  std::unordered_map<ConsumerKey, Watcher, ConsumerKeyHash> watchers_;
  std::unordered_map<SubscriptionId, ConsumerKey> owner_;
  // Subscriptions ended by an error whose listener has not been told yet.
  std::unordered_set<SubscriptionId> ending_;
  SubscriptionId next_id_ = 1;
  uint64_t next_generation_ = 1;
  bool shut_down_ = false;
  uint64_t jitter_state_ = 0x9E3779B97F4A7C15ull;
};

}  // namespace jss::core
