// PushHub's wake-up half: when a watcher wants a wake-up subscription, arming
// and parking it, and what a publish (or a lost subscription) does. The read
// and delivery half is push_hub.cc.
#include "jss/core/push/push_hub.h"

#include <algorithm>
#include <chrono>

namespace jss::core {

bool PushHub::WakeupReachable(int64_t activation_lag_threshold) {
  return activation_lag_threshold < kMaxWakeupThreshold;
}

bool PushHub::WantsWakeupLocked(const Watcher& w) {
  for (const auto& [id, sub] : w.subscribers) {
    // Before the first value every subscriber may be idle.
    const bool idle = !w.last_lag.has_value() || sub.last_sent == false;
    // A publish starts an age at once; a lag only as far as one message.
    const bool reachable = sub.activation.measure == PushActivation::Measure::kAge ||
                           WakeupReachable(sub.activation.threshold);
    if (idle && reachable) return true;
  }
  return false;
}

void PushHub::FollowUpLocked(Watcher& w, bool unchanged, SteadyTime now) {
  const bool checked = w.wake_check;
  w.wake_check = false;
  if (!checked || !unchanged || w.need_read || w.followups >= kWakeFollowUps) return;
  bool any_active = false;
  for (const auto& [id, sub] : w.subscribers) any_active = any_active || sub.last_sent == true;
  // Someone active is polled anyway; nobody listening means nobody woke.
  if (any_active || w.wake != Wake::kArmed) return;
  w.followup_due = now + kWakeFollowUpDelay[w.followups];
  ++w.followups;
}

void PushHub::UpdateWakeupLocked(const ConsumerKey& key, Watcher& w, SteadyTime now,
                                     Actions& a) {
  if (wakeups_ == nullptr) return;
  const bool want = WantsWakeupLocked(w);
  switch (w.wake) {
    case Wake::kOff:
      if (want && now >= w.next_wake_setup) {
        w.wake = Wake::kSettingUp;
        a.watches.push_back({key, w.generation, ++w.wake_epoch});
      }
      break;
    case Wake::kParked:
      if (!want) break;
      if (w.wakeup != nullptr && w.wakeup->Rearm()) {
        w.wake = Wake::kArmed;
        // Whatever was published while parked is in the next read.
        NeedReadLocked(w, now);
      } else {
        DropWakeupLocked(w, a);
        w.next_wake_setup = now + options_.idle_resync;
      }
      break;
    case Wake::kArmed:
    case Wake::kFired:
      // Every subscriber is active: the work is flowing and polling sees it
      // drain; listening would only cost traffic.
      if (!want && w.wakeup != nullptr) {
        w.wakeup->Disarm();
        w.wake = Wake::kParked;
      }
      break;
    case Wake::kSettingUp:
      break;  // on_ready decides
  }
}

void PushHub::DropWakeupLocked(Watcher& w, Actions& a) {
  if (w.wakeup != nullptr) a.dropped.push_back(std::move(w.wakeup));
  w.wake = Wake::kOff;
}

void PushHub::OnWake(const ConsumerKey& key, uint64_t generation, uint64_t epoch) {
  Actions a;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Watcher* w = FindLocked(key, generation);
    if (w == nullptr || w->wake_epoch != epoch || w->wake != Wake::kArmed) return;
    const SteadyTime now = clock_.Now();
    w->wake = Wake::kFired;
    // A publish after a quiet spell is read at once; while they keep coming
    // the reads (and the re-arms, hence the messages we receive) are spaced.
    if (now - w->last_fire > w->spacing + kMaxWakeupGap) {
      w->spacing = std::chrono::milliseconds(0);
    } else {
      w->spacing = std::clamp(w->spacing * 2, kMinWakeupGap, kMaxWakeupGap);
    }
    w->last_fire = now;
    // A new publish: its read may be answered too early as well.
    w->followups = 0;
    w->followup_due.reset();
    w->need_read = true;
    w->need_urgent = true;
    w->need_since = now;
    PlanLocked(key, *w, now, a);
  }
  Run(a);
}

void PushHub::OnWakeReady(const ConsumerKey& key, uint64_t generation, uint64_t epoch,
                              bool live) {
  Actions a;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Watcher* w = FindLocked(key, generation);
    if (w == nullptr || w->wake_epoch != epoch || w->wake != Wake::kSettingUp) return;
    const SteadyTime now = clock_.Now();
    if (live) {
      w->wake = Wake::kArmed;
      // A publish between our last read and the subscription would be
      // missed: read once more now that we listen.
      NeedReadLocked(*w, now);
      UpdateWakeupLocked(key, *w, now, a);  // parks it if nobody is idle any more
    } else {
      DropWakeupLocked(*w, a);
      w->next_wake_setup = now + options_.idle_resync;
    }
    PlanLocked(key, *w, now, a);
  }
  Run(a);
}

void PushHub::OnWakeLost(const ConsumerKey& key, uint64_t generation, uint64_t epoch) {
  Actions a;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Watcher* w = FindLocked(key, generation);
    if (w == nullptr || w->wake_epoch != epoch || w->wake == Wake::kOff) return;
    const SteadyTime now = clock_.Now();
    // Polled every interval from now on (the fallback); the set-up is tried
    // again after idle_resync. The lost watch heard nothing: read now.
    DropWakeupLocked(*w, a);
    w->next_wake_setup = now + options_.idle_resync;
    NeedReadLocked(*w, now);
    PlanLocked(key, *w, now, a);
  }
  Run(a);
}

}  // namespace jss::core
