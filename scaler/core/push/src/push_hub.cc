#include "jss/core/push/push_hub.h"

#include <algorithm>

#include "jss/core/lag/lag.h"

namespace jss::core {
namespace {

using std::chrono::milliseconds;

std::string_view FailureReason(StatusCode code) {
  switch (code) {
    case StatusCode::kUnavailable:
      return "unavailable";
    case StatusCode::kNotFound:
      return "not_found";
    case StatusCode::kResourceExhausted:
      return "resource_exhausted";
    case StatusCode::kDeadlineExceeded:
      return "deadline";
    default:
      return "other";
  }
}

// A value younger than this is as good as a poll of our own: the watcher
// takes it from the shared cache instead of asking NATS again.
SteadyTime PollNotBefore(SteadyTime now, milliseconds interval) {
  return now - std::min<milliseconds>(interval / 2, milliseconds(1000));
}

}  // namespace

thread_local PushHub::Deferred* PushHub::deferred_ = nullptr;

bool PushHub::IsTerminal(const Status& status) {
  return status.code() == StatusCode::kInvalidArgument ||
         status.code() == StatusCode::kPermissionDenied;
}

PushHub::PushHub(LagSource& source, Scheduler& scheduler, const Clock& clock,
                 WakeupSource* wakeups, Pacer* pacer, PushHubOptions options,
                 PushObserver* observer, LagSource* age_source)
    : source_(source),
      age_source_(age_source),
      scheduler_(scheduler),
      clock_(clock),
      wakeups_(wakeups),
      pacer_(pacer),
      options_(options),
      observer_(observer) {
  if (wakeups_ != nullptr) {
    wakeups_->SetResyncHandler(
        [this](const std::string& connection) { ResyncConnection(connection); });
  }
}

PushHub::~PushHub() {
  if (wakeups_ != nullptr) wakeups_->SetResyncHandler(nullptr);
  Shutdown();
}

PushHub::SubscriptionId PushHub::Subscribe(const ConsumerKey& key, PushActivation activation,
                                           std::chrono::milliseconds interval,
                                           Listener listener) {
  Actions a;
  SubscriptionId id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    id = next_id_++;
    auto shared_listener = std::make_shared<Listener>(std::move(listener));
    const bool age = activation.measure == PushActivation::Measure::kAge;
    if (shut_down_ || (age && age_source_ == nullptr)) {
      ending_.insert(id);
      a.deliveries.push_back(
          {id, shared_listener,
           {std::nullopt, shut_down_ ? OkStatus()
                                     : InvalidArgumentError(
                                           "this scaler reads no message ages for push "
                                           "activation: use type external for an age trigger")}});
    } else {
      const SteadyTime now = clock_.Now();
      auto [it, created] = watchers_.try_emplace(key);
      Watcher& w = it->second;
      if (created) w.generation = next_generation_++;
      Subscriber sub{activation, interval, shared_listener, std::nullopt};
      if (w.last_lag.has_value() && w.failures == 0 && (!age || w.last_lag->oldest_age_ms)) {
        // A watcher already knows the lag (and the age, if this one needs
        // it): answer the new stream at once (unless its reads are failing:
        // then it waits, like the others).
        sub.last_sent = IsActiveFor(activation, *w.last_lag);
        a.deliveries.push_back({id, shared_listener, {sub.last_sent, OkStatus()}});
      } else if (w.last_lag.has_value() && w.failures == 0) {
        NeedReadLocked(w, now);  // the first age subscriber of a lag watcher
      }
      if (age) ++w.age_subscribers;
      w.subscribers.emplace(id, std::move(sub));
      owner_.emplace(id, key);
      UpdateWakeupLocked(key, w, now, a);
      PlanLocked(key, w, now, a);  // a faster subscriber may shorten the wait
      ReportLocked();
    }
  }
  Run(a);
  return id;
}

void PushHub::Unsubscribe(SubscriptionId id) {
  Actions a;
  {
    // Waits for a delivery in progress, so the listener is never called
    // after this returns; held only while the subscription is removed.
    std::lock_guard<std::recursive_mutex> delivery(delivery_mu_);
    std::lock_guard<std::mutex> lock(mu_);
    ending_.erase(id);
    auto owner = owner_.find(id);
    if (owner == owner_.end()) return;
    const ConsumerKey key = owner->second;
    owner_.erase(owner);
    auto it = watchers_.find(key);
    if (it == watchers_.end()) return;
    auto sub = it->second.subscribers.find(id);
    if (sub != it->second.subscribers.end()) {
      if (sub->second.activation.measure == PushActivation::Measure::kAge) {
        --it->second.age_subscribers;
      }
      it->second.subscribers.erase(sub);
    }
    if (it->second.subscribers.empty()) {
      EraseLocked(it, a);  // an in-flight read finds no watcher and is ignored
    } else {
      const SteadyTime now = clock_.Now();
      UpdateWakeupLocked(key, it->second, now, a);
      PlanLocked(key, it->second, now, a);
    }
    ReportLocked();
  }
  // Requests (reads, wake-up set-ups) are never issued under either lock; a
  // listener that unsubscribes from inside a delivery (delivery_mu_ still
  // held by Deliver further up this thread) hands them to Deliver, which
  // issues them once it has let go.
  if (deferred_ != nullptr && deferred_->hub == this) {
    deferred_->actions.push_back(std::move(a));
    return;
  }
  Run(a);
}

void PushHub::Shutdown() {
  Actions a;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shut_down_) return;
    shut_down_ = true;
    for (auto& [key, w] : watchers_) {
      for (auto& [id, sub] : w.subscribers) {
        ending_.insert(id);
        a.deliveries.push_back({id, sub.listener, {std::nullopt, OkStatus()}});
      }
    }
    while (!watchers_.empty()) EraseLocked(watchers_.begin(), a);
    owner_.clear();
    ReportLocked();
  }
  Run(a);
}

void PushHub::OnLagRead(const ConsumerKey& key, const LagResult& result) {
  if (!result.ok()) return;  // the watcher's own reads decide about errors
  Actions a;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = watchers_.find(key);
    // With a read of its own in flight the watcher takes that one's value
    // (it completes right after, often with this very result).
    if (it == watchers_.end() || it->second.read_in_flight) return;
    // A lag-only value cannot tell an age subscriber anything, nor stand in
    // for the watcher's next (age) read.
    if (!Decides(it->second, *result)) return;
    const SteadyTime now = clock_.Now();
    // A changed lag has seen the publish a follow-up waits for.
    if (!(it->second.last_lag == *result)) it->second.followup_due.reset();
    ApplyLocked(key, it->second, *result, now, a);
    PlanLocked(key, it->second, now, a);
  }
  Run(a);
}

void PushHub::ResyncConnection(const std::string& connection) {
  Actions a;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const SteadyTime now = clock_.Now();
    for (auto& [key, w] : watchers_) {
      if (key.connection != connection) continue;
      // need_read goes ahead of a failing watcher's back-off.
      NeedReadLocked(w, now);
      PlanLocked(key, w, now, a);
    }
  }
  Run(a);
}

void PushHub::NeedReadLocked(Watcher& w, SteadyTime now) {
  if (w.need_read) return;  // already wanted, maybe urgently
  w.need_read = true;
  w.need_urgent = false;
  w.need_since = now;
}

size_t PushHub::WatcherCount() const {
  std::lock_guard<std::mutex> lock(mu_);
  return watchers_.size();
}

PushHub::Watcher* PushHub::FindLocked(const ConsumerKey& key, uint64_t generation) {
  auto it = watchers_.find(key);
  if (it == watchers_.end() || it->second.generation != generation) return nullptr;
  return &it->second;
}

void PushHub::PlanLocked(const ConsumerKey& key, Watcher& w, SteadyTime now, Actions& a) {
  bool any_active = false;
  for (const auto& [id, sub] : w.subscribers) any_active = any_active || sub.last_sent == true;
  const bool want_wakeup = WantsWakeupLocked(w);
  RefreshFallbackLocked(w, want_wakeup && !any_active && w.wake == Wake::kOff &&
                               w.last_lag.has_value());
  if (w.read_in_flight) {
    // Its completion plans again.
    scheduler_.Cancel(w.timer);
    w.timer = 0;
    return;
  }
  const milliseconds interval = IntervalLocked(w);
  SteadyTime due;
  SteadyTime not_before = PollNotBefore(now, interval);
  bool urgent = false;
  if (w.need_read) {
    urgent = w.need_urgent;
    due = urgent ? std::max(now, w.last_wake_read + w.spacing) : now;
    not_before = w.need_since;
  } else if (w.failures > 0) {
    due = w.failed_at + w.retry_delay;
    not_before = w.failed_at;  // never the cached error again
  } else if (!w.last_lag.has_value()) {
    // The first read waits for the wake-up to be live, so that no publish
    // falls between the two; on_ready then asks for it.
    if (w.wake == Wake::kSettingUp) {
      scheduler_.Cancel(w.timer);
      w.timer = 0;
      return;
    }
    due = now;
  } else {
    if (any_active || (want_wakeup && w.wake != Wake::kArmed)) {
      // Watching work drain, or polling for want of a wake-up (the fallback).
      due = w.last_value_at + interval;
    } else {
      // Idle and either listening, or no publish could make anyone active
      // (thresholds beyond kMaxWakeupThreshold): the safety re-read only.
      due = w.last_value_at + w.resync_delay;
    }
    // A waiting message will be old enough for an idle age subscriber then:
    // one read, sent after that moment, tells it (no publish will).
    const std::optional<SteadyTime> crossing = AgeCrossingLocked(w, interval);
    if (crossing.has_value() && *crossing < due) {
      due = *crossing;
      not_before = due;
    }
  }
  if (!w.need_read && w.failures == 0 && w.followup_due.has_value() && *w.followup_due < due) {
    // A wake-up read may have been answered before the publish was stored.
    due = *w.followup_due;
    not_before = due;  // a fresh read, never one sent before the delay
  }
  if (due <= now) {
    StartReadLocked(key, w, now, not_before, urgent, a);
  } else {
    ArmTimerLocked(key, w, due, now);
  }
}

void PushHub::StartReadLocked(const ConsumerKey& key, Watcher& w, SteadyTime now,
                              SteadyTime not_before, bool urgent, Actions& a) {
  if (w.wake == Wake::kFired) {
    // Listen again before the read is sent: a publish after this point wakes
    // us, one before it is in the read.
    if (w.wakeup != nullptr && w.wakeup->Rearm()) {
      w.wake = Wake::kArmed;
    } else {
      DropWakeupLocked(w, a);
      w.next_wake_setup = now + options_.idle_resync;
    }
  }
  if (urgent) {
    w.last_wake_read = now;
    a.wakeup = true;
  }
  // Any read sent now is at least as fresh as the follow-up it replaces.
  const bool followup = !urgent && w.followup_due.has_value();
  if (followup) a.followups.push_back({key, w.followups});
  w.followup_due.reset();
  w.wake_check = urgent || followup;
  w.need_read = false;
  w.read_in_flight = true;
  scheduler_.Cancel(w.timer);
  w.timer = 0;
  // A follow-up goes through the pacer like the wake-up read it repeats.
  a.reads.push_back({key, w.generation, not_before, urgent || followup, w.age_subscribers > 0});
}

bool PushHub::IsActiveFor(const PushActivation& activation, const ConsumerLag& lag) {
  if (activation.measure == PushActivation::Measure::kAge) {
    return IsAgeActive(lag, milliseconds(activation.threshold));
  }
  return IsActive(lag, activation.threshold);
}

bool PushHub::Decides(const Watcher& w, const ConsumerLag& lag) {
  return w.age_subscribers == 0 || lag.oldest_age_ms.has_value();
}

std::optional<SteadyTime> PushHub::AgeCrossingLocked(const Watcher& w, milliseconds interval) {
  if (w.age_subscribers == 0 || !w.last_lag.has_value()) return std::nullopt;
  const int64_t age = w.last_lag->oldest_age_ms.value_or(0);
  if (age <= 0) return std::nullopt;  // nothing waits: a publish wakes us
  std::optional<SteadyTime> first;
  for (const auto& [id, sub] : w.subscribers) {
    if (sub.activation.measure != PushActivation::Measure::kAge || sub.last_sent != false) continue;
    // Strictly above the threshold: a millisecond past it.
    const SteadyTime at = w.last_value_at + milliseconds(sub.activation.threshold - age + 1);
    if (!first.has_value() || at < *first) first = at;
  }
  if (!first.has_value()) return std::nullopt;
  return std::max(*first, w.last_value_at + interval);
}

void PushHub::ApplyLocked(const ConsumerKey& key, Watcher& w, const ConsumerLag& lag,
                          SteadyTime now, Actions& a) {
  if (w.failures > 0) {
    w.failures = 0;
    w.next_wake_setup = now;  // a set-up that failed with the reads may work now
    if (observer_ != nullptr) observer_->OnReadRecovered(key);
  }
  w.last_lag = lag;
  w.last_value_at = now;
  w.resync_delay = JitterLocked(options_.idle_resync);
  for (auto& [id, sub] : w.subscribers) {
    if (sub.activation.measure == PushActivation::Measure::kAge && !lag.oldest_age_ms) {
      continue;  // a lag read that was in flight when this one joined
    }
    const bool active = IsActiveFor(sub.activation, lag);
    if (sub.last_sent != active) {
      sub.last_sent = active;
      a.deliveries.push_back({id, sub.listener, {active, OkStatus()}});
    }
  }
  UpdateWakeupLocked(key, w, now, a);
}

void PushHub::EraseLocked(
    std::unordered_map<ConsumerKey, Watcher, ConsumerKeyHash>::iterator it, Actions& a) {
  Watcher& w = it->second;
  if (w.failures > 0 && observer_ != nullptr) observer_->OnReadRecovered(it->first);
  RefreshFallbackLocked(w, false);
  scheduler_.Cancel(w.timer);
  DropWakeupLocked(w, a);
  watchers_.erase(it);
}

void PushHub::ArmTimerLocked(const ConsumerKey& key, Watcher& w, SteadyTime due,
                             SteadyTime now) {
  if (w.timer != 0 && w.timer_due == due) return;
  scheduler_.Cancel(w.timer);
  w.timer_due = due;
  const uint64_t generation = w.generation;
  // Round up so the task never fires just before `due`.
  w.timer = scheduler_.RunAfter(std::chrono::ceil<milliseconds>(due - now),
                                [this, key, generation, due] { OnTimer(key, generation, due); });
}

void PushHub::RefreshFallbackLocked(Watcher& w, bool fallback) {
  if (w.fallback == fallback) return;
  w.fallback = fallback;
  if (fallback) {
    ++fallback_count_;
  } else {
    --fallback_count_;
  }
  if (observer_ != nullptr) observer_->OnPollingFallback(fallback_count_);
}

std::chrono::milliseconds PushHub::IntervalLocked(const Watcher& w) const {
  auto interval = milliseconds::max();
  for (const auto& [id, sub] : w.subscribers) interval = std::min(interval, sub.interval);
  return interval == milliseconds::max() ? milliseconds(1000) : interval;
}

std::chrono::milliseconds PushHub::JitterLocked(milliseconds d) {
  // xorshift: a cheap spread over 75-100% of `d`, so that watchers started
  // together (a KEDA restart, an outage) do not stay in lock step.
  jitter_state_ ^= jitter_state_ << 13;
  jitter_state_ ^= jitter_state_ >> 7;
  jitter_state_ ^= jitter_state_ << 17;
  return d - d * static_cast<int64_t>(jitter_state_ % 256) / 1024;
}

void PushHub::ReportLocked() {
  if (observer_ != nullptr) observer_->OnWatchers(watchers_.size(), owner_.size());
}

void PushHub::OnTimer(const ConsumerKey& key, uint64_t generation, SteadyTime due) {
  Actions a;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Watcher* w = FindLocked(key, generation);
    // A timer replaced while it was already starting is stale.
    if (w == nullptr || w->timer == 0 || w->timer_due != due) return;
    // Trust the timer over a clock that may read a hair earlier.
    const SteadyTime now = std::max(clock_.Now(), due);
    w->timer = 0;
    PlanLocked(key, *w, now, a);
  }
  Run(a);
}

void PushHub::OnRead(const ConsumerKey& key, uint64_t generation, bool age_read,
                     LagResult result) {
  Actions a;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = watchers_.find(key);
    if (it == watchers_.end() || it->second.generation != generation) return;
    Watcher& w = it->second;
    w.read_in_flight = false;
    const SteadyTime now = clock_.Now();
    if (age_read && result.ok() && !result->oldest_age_ms.has_value()) {
      // Never decide an age subscriber without an age: retried like any
      // failing read, every stream open and told nothing.
      result = InternalError("the age read of consumer \"" + key.consumer +
                             "\" returned no age");
    }
    // The lag before this read, to tell whether a wake-up's read saw the publish.
    const bool unchanged = result.ok() && w.last_lag.has_value() && *w.last_lag == *result;
    FollowUpLocked(w, unchanged, now);
    if (!result.ok() && IsTerminal(result.status())) {
      // No retry can fix bad metadata or a denied subject: end every stream
      // of this consumer with the error (KEDA logs it).
      for (auto& [id, sub] : w.subscribers) {
        ending_.insert(id);
        owner_.erase(id);
        a.deliveries.push_back({id, sub.listener, {std::nullopt, result.status()}});
      }
      EraseLocked(it, a);
      ReportLocked();
    } else if (!result.ok()) {
      // Worth retrying (NATS unreachable or slow, overloaded, a consumer the
      // platform has not created yet). Ending the streams would only make
      // KEDA back off for up to a minute; instead they stay open, hear
      // nothing (never a guessed value) and the read is retried.
      ++w.failures;
      w.failed_at = now;
      milliseconds delay = kRetryFirst;
      for (int i = 1; i < w.failures && delay < kRetryCap; ++i) delay *= 2;
      w.retry_delay = JitterLocked(std::min(delay, kRetryCap));
      if (observer_ != nullptr) {
        observer_->OnReadFailed(key, FailureReason(result.status().code()), result.status(),
                                w.failures == 1);
      }
      PlanLocked(key, w, now, a);
    } else {
      ApplyLocked(key, w, *result, now, a);
      // A lag read that was in flight when the first age subscriber joined.
      if (!Decides(w, *result)) NeedReadLocked(w, now);
      PlanLocked(key, w, now, a);
    }
  }
  Run(a);
}

void PushHub::StartRead(const Read& read) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (FindLocked(read.key, read.generation) == nullptr) return;  // gone while paced
  }
  const auto deadline = clock_.Now() + options_.read_timeout;
  LagSource& source = read.age ? *age_source_ : source_;
  source.ReadLagSentAfter(read.key, read.not_before, deadline,
                          [this, key = read.key, generation = read.generation,
                           age = read.age](const LagResult& result) {
                            OnRead(key, generation, age, result);
                          });
}

void PushHub::Run(Actions& a) {
  if (a.wakeup && observer_ != nullptr) observer_->OnWakeup();
  if (observer_ != nullptr) {
    for (const FollowUp& f : a.followups) observer_->OnWakeupFollowUp(f.key, f.attempt);
  }
  for (const WatchRequest& request : a.watches) {
    const ConsumerKey key = request.key;
    const uint64_t generation = request.generation;
    const uint64_t epoch = request.epoch;
    WakeupSource::Callbacks callbacks{
        [this, key, generation, epoch] { OnWake(key, generation, epoch); },
        [this, key, generation, epoch](bool live) { OnWakeReady(key, generation, epoch, live); },
        [this, key, generation, epoch] { OnWakeLost(key, generation, epoch); }};
    auto handle = wakeups_->Watch(key, std::move(callbacks));
    {
      std::lock_guard<std::mutex> lock(mu_);
      Watcher* w = FindLocked(key, generation);
      if (w != nullptr && w->wake_epoch == epoch && w->wake != Wake::kOff &&
          w->wakeup == nullptr) {
        w->wakeup = std::move(handle);
      }
    }
    handle.reset();  // outside the lock, if it was not kept
  }
  for (const Read& read : a.reads) {
    if (pacer_ == nullptr) {
      StartRead(read);
    } else {
      pacer_->Submit(read.urgent, [this, read] { StartRead(read); });
    }
  }
  Deliver(a.deliveries);
  a.dropped.clear();
}

void PushHub::Deliver(std::vector<Delivery>& deliveries) {
  if (deliveries.empty()) return;
  Deferred deferred{this, {}, deferred_};
  {
    std::lock_guard<std::recursive_mutex> delivery(delivery_mu_);
    deferred_ = &deferred;
    for (auto& d : deliveries) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        const bool terminal = !d.update.active.has_value();
        if (terminal) {
          if (ending_.erase(d.id) == 0) continue;  // unsubscribed meanwhile
        } else if (owner_.count(d.id) == 0) {
          continue;
        }
      }
      (*d.listener)(d.update);
    }
    deferred_ = deferred.outer;
  }
  for (Actions& a : deferred.actions) Run(a);
}

}  // namespace jss::core
