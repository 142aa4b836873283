#include "jss/core/activity_hub.h"

#include <algorithm>

#include "jss/core/lag.h"

namespace jss::core {
namespace {

std::chrono::milliseconds WaitUntil(std::chrono::steady_clock::time_point when,
                                    std::chrono::steady_clock::time_point now) {
  // Round up so the task never fires just before `when`.
  return std::chrono::ceil<std::chrono::milliseconds>(when - now);
}

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

}  // namespace

bool ActivityHub::IsTerminal(const Status& status) {
  return status.code() == StatusCode::kInvalidArgument ||
         status.code() == StatusCode::kPermissionDenied;
}

ActivityHub::ActivityHub(LagSource& source, Scheduler& scheduler, const Clock& clock,
                         WakeupSource* wakeups, std::chrono::milliseconds read_timeout,
                         ActivityObserver* observer)
    : source_(source),
      scheduler_(scheduler),
      clock_(clock),
      wakeups_(wakeups),
      read_timeout_(read_timeout),
      observer_(observer) {}

ActivityHub::~ActivityHub() { Shutdown(); }

ActivityHub::SubscriptionId ActivityHub::Subscribe(const ConsumerKey& key,
                                                   int64_t activation_lag_threshold,
                                                   std::chrono::milliseconds interval,
                                                   Listener listener) {
  std::vector<Delivery> deliveries;
  SubscriptionId id;
  bool start_read = false;
  uint64_t generation = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    id = next_id_++;
    auto shared_listener = std::make_shared<Listener>(std::move(listener));
    if (shut_down_) {
      ending_.insert(id);
      deliveries.push_back({id, shared_listener, {std::nullopt, OkStatus()}});
    } else {
      auto [it, created] = watchers_.try_emplace(key);
      Watcher& w = it->second;
      if (created) w.generation = next_generation_++;
      generation = w.generation;
      Subscriber sub{activation_lag_threshold, interval, shared_listener, std::nullopt};
      if (w.last_lag.has_value() && w.failures == 0) {
        // A watcher already knows the lag: answer the new stream at once
        // (unless its reads are failing: then it waits, like the others).
        sub.last_sent = IsActive(*w.last_lag, activation_lag_threshold);
        deliveries.push_back({id, shared_listener, {sub.last_sent, OkStatus()}});
      }
      const auto previous_interval = IntervalLocked(w);
      w.subscribers.emplace(id, std::move(sub));
      owner_.emplace(id, key);
      if (!w.read_in_flight && !w.last_lag.has_value()) {
        w.read_in_flight = true;
        start_read = true;
      } else if (!w.read_in_flight && interval < previous_interval) {
        ScheduleLocked(key, w);  // a faster subscriber shortens the wait
      }
      if (w.last_lag.has_value()) UpdateWakeupLocked(key, w);
      ReportLocked();
    }
  }
  Deliver(deliveries);
  if (start_read) StartRead(key, generation);
  return id;
}

void ActivityHub::Unsubscribe(SubscriptionId id) {
  std::lock_guard<std::recursive_mutex> delivery(delivery_mu_);
  std::unique_ptr<WakeupSource::Handle> dropped_wakeup;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ending_.erase(id);
    auto owner = owner_.find(id);
    if (owner == owner_.end()) return;
    const ConsumerKey key = owner->second;
    owner_.erase(owner);
    auto it = watchers_.find(key);
    if (it == watchers_.end()) return;
    it->second.subscribers.erase(id);
    if (it->second.subscribers.empty()) {
      if (it->second.failures > 0 && observer_ != nullptr) observer_->OnReadRecovered(key);
      scheduler_.Cancel(it->second.timer);
      dropped_wakeup = std::move(it->second.wakeup);
      watchers_.erase(it);  // an in-flight read finds no watcher and is ignored
    } else {
      UpdateWakeupLocked(key, it->second);
    }
    ReportLocked();
  }
}

void ActivityHub::Shutdown() {
  std::vector<Delivery> deliveries;
  std::vector<std::unique_ptr<WakeupSource::Handle>> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shut_down_) return;
    shut_down_ = true;
    for (auto& [key, w] : watchers_) {
      if (w.failures > 0 && observer_ != nullptr) observer_->OnReadRecovered(key);
      scheduler_.Cancel(w.timer);
      if (w.wakeup) dropped.push_back(std::move(w.wakeup));
      for (auto& [id, sub] : w.subscribers) {
        ending_.insert(id);
        deliveries.push_back({id, sub.listener, {std::nullopt, OkStatus()}});
      }
    }
    watchers_.clear();
    owner_.clear();
    ReportLocked();
  }
  Deliver(deliveries);
}

size_t ActivityHub::WatcherCount() const {
  std::lock_guard<std::mutex> lock(mu_);
  return watchers_.size();
}

void ActivityHub::StartRead(const ConsumerKey& key, uint64_t generation) {
  const auto deadline = clock_.Now() + read_timeout_;
  source_.ReadLag(key, deadline, [this, key, generation](const LagResult& result) {
    OnRead(key, generation, result);
  });
}

void ActivityHub::OnRead(const ConsumerKey& key, uint64_t generation, const LagResult& result) {
  std::vector<Delivery> deliveries;
  bool read_now = false;
  std::unique_ptr<WakeupSource::Handle> dropped_wakeup;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = watchers_.find(key);
    if (it == watchers_.end() || it->second.generation != generation) return;
    Watcher& w = it->second;
    w.read_in_flight = false;
    if (!result.ok() && IsTerminal(result.status())) {
      // No retry can fix bad metadata or a denied subject: end every stream
      // of this consumer with the error (KEDA logs it).
      if (w.failures > 0 && observer_ != nullptr) observer_->OnReadRecovered(key);
      for (auto& [id, sub] : w.subscribers) {
        ending_.insert(id);
        owner_.erase(id);
        deliveries.push_back({id, sub.listener, {std::nullopt, result.status()}});
      }
      scheduler_.Cancel(w.timer);
      dropped_wakeup = std::move(w.wakeup);
      watchers_.erase(it);
      ReportLocked();
    } else if (!result.ok()) {
      // Worth retrying (NATS unreachable or slow, overloaded, a consumer the
      // platform has not created yet). Ending the streams would only make
      // KEDA back off for up to a minute; instead they stay open, hear
      // nothing (never a guessed value) and the read is retried.
      ++w.failures;
      if (observer_ != nullptr) {
        observer_->OnReadFailed(key, FailureReason(result.status().code()), result.status(),
                                w.failures == 1);
      }
      w.read_again = false;
      ScheduleLocked(key, w, RetryDelayLocked(w.failures));
    } else {
      if (w.failures > 0 && observer_ != nullptr) observer_->OnReadRecovered(key);
      w.failures = 0;
      w.last_lag = *result;
      for (auto& [id, sub] : w.subscribers) {
        const bool active = IsActive(*result, sub.threshold);
        if (sub.last_sent != active) {
          sub.last_sent = active;
          deliveries.push_back({id, sub.listener, {active, OkStatus()}});
        }
      }
      UpdateWakeupLocked(key, w);
      if (w.read_again) {
        // A publish arrived while this read was in flight; its reply may
        // predate the publish, so read again, no sooner than the gap allows.
        w.read_again = false;
        const auto now = clock_.Now();
        if (now >= w.next_wakeup_read) {
          w.next_wakeup_read = now + kMinWakeupGap;
          w.read_in_flight = true;
          read_now = true;
        } else {
          ScheduleLocked(key, w, WaitUntil(w.next_wakeup_read, now));
        }
      } else {
        ScheduleLocked(key, w);
      }
    }
  }
  Deliver(deliveries);
  if (read_now) StartRead(key, generation);
}

void ActivityHub::OnWake(const ConsumerKey& key, uint64_t generation) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = watchers_.find(key);
    if (it == watchers_.end() || it->second.generation != generation) return;
    Watcher& w = it->second;
    if (w.read_in_flight) {
      w.read_again = true;  // the reply may predate the publish
      return;
    }
    const auto now = clock_.Now();
    if (now < w.next_wakeup_read) {
      // Spaced: make sure the next read is no later than the gap's end.
      const auto wait = WaitUntil(w.next_wakeup_read, now);
      if (!w.wakeup_timer_armed) {
        ScheduleLocked(key, w, wait);
        w.wakeup_timer_armed = true;
      }
      return;
    }
    w.next_wakeup_read = now + kMinWakeupGap;
    scheduler_.Cancel(w.timer);
    w.wakeup_timer_armed = false;
    w.read_in_flight = true;
  }
  if (observer_ != nullptr) observer_->OnWakeup();
  StartRead(key, generation);
}

std::chrono::milliseconds ActivityHub::IntervalLocked(const Watcher& w) const {
  auto interval = std::chrono::milliseconds::max();
  for (const auto& [id, sub] : w.subscribers) interval = std::min(interval, sub.interval);
  return interval;
}

void ActivityHub::ScheduleLocked(const ConsumerKey& key, Watcher& w) {
  ScheduleLocked(key, w, IntervalLocked(w));
}

void ActivityHub::ScheduleLocked(const ConsumerKey& key, Watcher& w,
                                 std::chrono::milliseconds delay) {
  scheduler_.Cancel(w.timer);
  w.wakeup_timer_armed = false;
  const uint64_t generation = w.generation;
  w.timer = scheduler_.RunAfter(delay, [this, key, generation] {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = watchers_.find(key);
      if (it == watchers_.end() || it->second.generation != generation ||
          it->second.read_in_flight) {
        return;
      }
      it->second.read_in_flight = true;
    }
    StartRead(key, generation);
  });
}

void ActivityHub::UpdateWakeupLocked(const ConsumerKey& key, Watcher& w) {
  if (wakeups_ == nullptr) return;
  bool any_inactive = false;
  for (const auto& [id, sub] : w.subscribers) {
    any_inactive = any_inactive || sub.last_sent == false;
  }
  if (any_inactive && !w.wakeup) {
    const uint64_t generation = w.generation;
    w.wakeup = wakeups_->Watch(key, [this, key, generation] { OnWake(key, generation); });
  } else if (!any_inactive && w.wakeup) {
    // Active: the work is flowing and polling will see it drain; listening to
    // every publish would only cost traffic.
    w.wakeup.reset();
  }
}

std::chrono::milliseconds ActivityHub::RetryDelayLocked(int failures) {
  auto delay = kRetryFirst;
  for (int i = 1; i < failures && delay < kRetryCap; ++i) delay *= 2;
  delay = std::min(delay, kRetryCap);
  // xorshift: a cheap spread of 75-100% of the delay.
  jitter_state_ ^= jitter_state_ << 13;
  jitter_state_ ^= jitter_state_ >> 7;
  jitter_state_ ^= jitter_state_ << 17;
  return delay - delay * static_cast<int64_t>(jitter_state_ % 256) / 1024;
}

void ActivityHub::ReportLocked() {
  if (observer_ != nullptr) observer_->OnWatchers(watchers_.size(), owner_.size());
}

void ActivityHub::Deliver(std::vector<Delivery>& deliveries) {
  if (deliveries.empty()) return;
  std::lock_guard<std::recursive_mutex> delivery(delivery_mu_);
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
}

}  // namespace jss::core
