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
#include <utility>
#include <vector>

#include "jss/core/base/clock.h"
#include "jss/core/base/scheduler.h"
#include "jss/core/base/status.h"
#include "jss/core/lag/lag_source.h"
#include "jss/core/push/pacer.h"
#include "jss/core/push/push_observer.h"
#include "jss/core/push/wakeup_source.h"

namespace jss::core {

struct PushHubOptions {
  // Upper bound of one read.
  std::chrono::milliseconds read_timeout{2000};
  // While every subscriber of a consumer is inactive and its wake-up is
  // live, the consumer is re-read only this often (jittered to 75-100%): a
  // safety net for lag that appears without a publish on its subjects.
  std::chrono::milliseconds idle_resync{30000};
};

// What a push subscriber's activity follows: the consumer's lag (a lag
// trigger: active while lag > threshold messages) or the age of its oldest
// unacknowledged message (an age trigger: active while age > threshold ms).
struct PushActivation {
  enum class Measure { kLag, kAge };
  Measure measure = Measure::kLag;
  int64_t threshold = 0;  // messages, or milliseconds for kAge

  static PushActivation Lag(int64_t activation_lag_threshold) {
    return {Measure::kLag, activation_lag_threshold};
  }
  static PushActivation Age(std::chrono::milliseconds activation_age_threshold) {
    return {Measure::kAge, activation_age_threshold.count()};
  }
};

// Shared watchers for push activation (KEDA's StreamIsActive). One watcher
// per consumer, however many streams subscribe. What a watcher costs depends
// on what it is waiting for:
//  - every subscriber inactive and the wake-up live: nothing but a jittered
//    re-read every `idle_resync`; a publish on the consumer's subjects
//    triggers an immediate read;
//  - some subscriber active, or the wake-up off/unavailable (the fallback):
//    a read every interval (the smallest any subscriber asked for), to see
//    the work drain or appear.
// Any successful read of the consumer by anyone (OnLagRead) counts as the
// watcher's own. Each subscriber is told its activity once at start and then
// only on change, and only from a successful read: a read failing with an
// error worth retrying (NATS unreachable or slow, overloaded, a consumer not
// created yet) is retried with capped back-off while every stream stays open
// and hears nothing; only INVALID_ARGUMENT and PERMISSION_DENIED end them.
// Reads and wake-up set-ups go through the pacer (bounded request rate).
//
// Age subscribers: a watcher with one reads through the age source (a read
// that carries the lag as well, so the consumer's lag subscribers share it).
// A publish wakes them like lag subscribers (age > 0 from then on); with an
// activation age above 0 the watcher, idle, reads once more when the oldest
// message it saw would cross the threshold (not before an interval after
// the read), instead of polling for it.
class PushHub {
 public:
  // Wake-up reads of one consumer are spaced: the first publish after a quiet
  // spell is read at once, then the gap doubles from kMinWakeupGap up to
  // kMaxWakeupGap while publishes keep coming.
  static constexpr std::chrono::milliseconds kMinWakeupGap{20};
  static constexpr std::chrono::milliseconds kMaxWakeupGap{1000};
  // nats-server 2.10+ hands a published message to the subscribers of its
  // subject (our wake-up) before its stream stores it (the stream's ingest
  // queue, stored by another goroutine), so the read a wake-up sends can be
  // answered with the lag from before the publish; the wake-up is spent by
  // then. A wake-up read (or follow-up) whose lag equals the one before it
  // is followed by another read, at most kWakeFollowUps per wake-up, each
  // delay counted from the read before it. A read that shows a change, or a
  // new wake-up, ends them.
  static constexpr int kWakeFollowUps = 2;
  static constexpr std::chrono::milliseconds kWakeFollowUpDelay[kWakeFollowUps] = {
      std::chrono::milliseconds(100), std::chrono::milliseconds(1000)};
  // Back-off between retries of a failing read (jittered to 75-100%).
  static constexpr std::chrono::milliseconds kRetryFirst{500};
  static constexpr std::chrono::milliseconds kRetryCap{30000};
  // A subscriber whose activationLagThreshold is at least this gets no
  // wake-up subscription: a publish adds one message, and no realistic run of
  // publishes lifts an idle consumer past a billion (a hostile or mistaken
  // INT64_MAX would otherwise keep a busy subject waking the scaler for
  // nothing). Such a consumer is re-read every idle_resync, not polled.
  static constexpr int64_t kMaxWakeupThreshold = 1'000'000'000;
  static bool WakeupReachable(int64_t activation_lag_threshold);
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

  // `wakeups` and `pacer` may be null (no wake-up: polling; no pacing);
  // `age_source` may be null when no age subscriber is expected (one is then
  // ended with INVALID_ARGUMENT). Its reads must carry an age.
  PushHub(LagSource& source, Scheduler& scheduler, const Clock& clock,
          WakeupSource* wakeups, Pacer* pacer, PushHubOptions options,
          PushObserver* observer, LagSource* age_source = nullptr);
  ~PushHub();

  SubscriptionId Subscribe(const ConsumerKey& key, PushActivation activation,
                           std::chrono::milliseconds interval, Listener listener);
  SubscriptionId Subscribe(const ConsumerKey& key, int64_t activation_lag_threshold,
                           std::chrono::milliseconds interval, Listener listener) {
    return Subscribe(key, PushActivation::Lag(activation_lag_threshold), interval,
                     std::move(listener));
  }
  // After this returns the listener is never called again.
  void Unsubscribe(SubscriptionId id);
  // Ends every subscription with OK (so KEDA reconnects at once, to another
  // replica, with its back-off reset) and stops all watchers.
  void Shutdown();
  // Every watcher of `connection` reads again (paced) as soon as allowed,
  // failing ones too: NATS reconnected, and publishes made during the outage
  // woke nobody.
  void ResyncConnection(const std::string& connection);
  // A lag read of `key` by anyone (KEDA's GetMetrics/IsActive through the
  // shared cache): a watched consumer takes a value as its own read (a
  // watcher with age subscribers only a value that carries an age).
  void OnLagRead(const ConsumerKey& key, const LagResult& result);

  size_t WatcherCount() const;

 private:
  enum class Wake {
    kOff,        // no handle (not wanted, off, or set-up failed)
    kSettingUp,  // Watch() called, on_ready pending
    kArmed,      // listening
    kFired,      // a message arrived; re-armed right before the next read
    kParked,     // not wanted now (someone is active); subjects kept
  };
  struct Subscriber {
    PushActivation activation;
    std::chrono::milliseconds interval;
    std::shared_ptr<Listener> listener;
    std::optional<bool> last_sent;
  };
  struct Watcher {
    uint64_t generation = 0;
    std::unordered_map<SubscriptionId, Subscriber> subscribers;
    size_t age_subscribers = 0;  // reads go through the age source while > 0
    std::optional<ConsumerLag> last_lag;
    SteadyTime last_value_at{};
    std::chrono::milliseconds resync_delay{};  // jittered, drawn per value
    bool read_in_flight = false;  // queued in the pacer or sent
    // A read sent at or after need_since is wanted as soon as allowed
    // (urgent: a publish, spaced by `spacing`).
    bool need_read = false;
    bool need_urgent = false;
    SteadyTime need_since{};
    Scheduler::TaskId timer = 0;
    SteadyTime timer_due{};
    Wake wake = Wake::kOff;
    uint64_t wake_epoch = 0;  // tells the callbacks of an old Watch() apart
    std::unique_ptr<WakeupSource::Handle> wakeup;
    SteadyTime next_wake_setup{};  // after a failed set-up, retry no sooner
    SteadyTime last_fire{};
    SteadyTime last_wake_read{};
    std::chrono::milliseconds spacing{0};
    // The read in flight checks a wake-up (a wake-up read or a follow-up):
    // an unchanged lag earns a follow-up (kWakeFollowUps).
    bool wake_check = false;
    int followups = 0;  // follow-ups of the latest wake-up so far
    std::optional<SteadyTime> followup_due;
    int failures = 0;  // consecutive failed reads
    SteadyTime failed_at{};
    std::chrono::milliseconds retry_delay{};
    bool fallback = false;  // counted in fallback_count_
  };
  struct Delivery {
    SubscriptionId id;
    std::shared_ptr<Listener> listener;
    Update update;
  };
  struct Read {
    ConsumerKey key;
    uint64_t generation;
    SteadyTime not_before;
    bool urgent;
    bool age;  // through the age source
  };
  struct WatchRequest {
    ConsumerKey key;
    uint64_t generation;
    uint64_t epoch;
  };
  // Side effects decided under the lock, carried out after it.
  struct FollowUp {
    ConsumerKey key;
    int attempt;
  };
  struct Actions {
    std::vector<Delivery> deliveries;
    std::vector<FollowUp> followups;
    std::vector<std::unique_ptr<WakeupSource::Handle>> dropped;
    std::vector<WatchRequest> watches;
    std::vector<Read> reads;
    bool wakeup = false;
  };

  // Actions of Unsubscribe calls made by listeners during a delivery on this
  // thread, run once the delivery lock is released.
  struct Deferred {
    PushHub* hub;
    std::vector<Actions> actions;
    Deferred* outer;
  };
  static thread_local Deferred* deferred_;

  Watcher* FindLocked(const ConsumerKey& key, uint64_t generation);
  // Some subscriber is idle (or no value yet) with a threshold a publish
  // can reach: the wake-up is worth having.
  static bool WantsWakeupLocked(const Watcher& w);
  void PlanLocked(const ConsumerKey& key, Watcher& w, SteadyTime now, Actions& a);
  void StartReadLocked(const ConsumerKey& key, Watcher& w, SteadyTime now,
                       SteadyTime not_before, bool urgent, Actions& a);
  void ApplyLocked(const ConsumerKey& key, Watcher& w, const ConsumerLag& lag, SteadyTime now,
                   Actions& a);
  static bool IsActiveFor(const PushActivation& activation, const ConsumerLag& lag);
  // The value `w` holds can decide every subscriber (an age one needs an age).
  static bool Decides(const Watcher& w, const ConsumerLag& lag);
  // When an idle age subscriber's oldest message, as last read, passes its
  // activation age (no sooner than `interval` after that read); none if no
  // such subscriber waits on a message.
  static std::optional<SteadyTime> AgeCrossingLocked(const Watcher& w,
                                                     std::chrono::milliseconds interval);
  // After a read that checked a wake-up and found `unchanged` lag: plans a
  // follow-up read if the wake-up may have been answered too early.
  void FollowUpLocked(Watcher& w, bool unchanged, SteadyTime now);
  void UpdateWakeupLocked(const ConsumerKey& key, Watcher& w, SteadyTime now, Actions& a);
  void DropWakeupLocked(Watcher& w, Actions& a);
  void EraseLocked(std::unordered_map<ConsumerKey, Watcher, ConsumerKeyHash>::iterator it,
                   Actions& a);
  void ArmTimerLocked(const ConsumerKey& key, Watcher& w, SteadyTime due, SteadyTime now);
  void RefreshFallbackLocked(Watcher& w, bool fallback);
  std::chrono::milliseconds IntervalLocked(const Watcher& w) const;
  std::chrono::milliseconds JitterLocked(std::chrono::milliseconds d);
  void ReportLocked();

  void OnTimer(const ConsumerKey& key, uint64_t generation, SteadyTime due);
  void OnRead(const ConsumerKey& key, uint64_t generation, bool age_read, LagResult result);
  void OnWake(const ConsumerKey& key, uint64_t generation, uint64_t epoch);
  void OnWakeReady(const ConsumerKey& key, uint64_t generation, uint64_t epoch, bool live);
  void OnWakeLost(const ConsumerKey& key, uint64_t generation, uint64_t epoch);
  // Reads `w` again as soon as allowed, asking for a request sent from now.
  static void NeedReadLocked(Watcher& w, SteadyTime now);
  void StartRead(const Read& read);
  void Run(Actions& a);
  void Deliver(std::vector<Delivery>& deliveries);

  LagSource& source_;
  LagSource* age_source_;
  Scheduler& scheduler_;
  const Clock& clock_;
  WakeupSource* wakeups_;
  Pacer* pacer_;
  const PushHubOptions options_;
  PushObserver* observer_;

  mutable std::mutex mu_;
  // Serialises listener calls against Unsubscribe, so that a subscriber that
  // has left is never called afterwards.
  std::recursive_mutex delivery_mu_;
  std::unordered_map<ConsumerKey, Watcher, ConsumerKeyHash> watchers_;
  std::unordered_map<SubscriptionId, ConsumerKey> owner_;
  // Subscriptions ended whose listener has not been told yet.
  std::unordered_set<SubscriptionId> ending_;
  SubscriptionId next_id_ = 1;
  uint64_t next_generation_ = 1;
  size_t fallback_count_ = 0;
  bool shut_down_ = false;
  uint64_t jitter_state_ = 0x9E3779B97F4A7C15ull;
};

}  // namespace jss::core
