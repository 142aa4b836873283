#include "jss/core/lag/coalescing_lag_source.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

namespace jss::core {
namespace {

// Sweep at most this often even with a zero ttl, so a sweep is amortised over
// many reads.
constexpr std::chrono::milliseconds kMinSweepInterval{1000};

}  // namespace

CoalescingLagSource::CoalescingLagSource(LagSource& upstream, const Clock& clock,
                                         std::chrono::milliseconds ttl,
                                         LagObserver& observer, Scheduler* scheduler)
    : upstream_(upstream), clock_(clock), ttl_(ttl), observer_(observer), scheduler_(scheduler) {
  last_sweep_ = clock_.Now();
}

CoalescingLagSource::~CoalescingLagSource() {
  // Waits for a deadline task that is running; later ones do nothing.
  std::lock_guard<std::mutex> lock(lifeline_->mu);
  lifeline_->alive = false;
}

void CoalescingLagSource::ArmLocked(const ConsumerKey& key, Waiter& waiter,
                                    SteadyTime read_deadline) {
  if (scheduler_ == nullptr || waiter.timer != 0 || waiter.deadline >= read_deadline) return;
  // Rounded up: a waiter is never answered before its deadline.
  const auto delay = std::max(std::chrono::milliseconds(0),
                              std::chrono::ceil<std::chrono::milliseconds>(waiter.deadline -
                                                                           clock_.Now()));
  waiter.timer = scheduler_->RunAfter(
      delay, [life = lifeline_, this, key, id = waiter.id] {
        std::lock_guard<std::mutex> hold(life->mu);
        if (life->alive) Expire(key, id);
      });
}

void CoalescingLagSource::Expire(const ConsumerKey& key, uint64_t waiter_id) {
  LagCallback done;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto entry = entries_.find(key);
    if (entry == entries_.end()) return;
    for (auto* list : {&entry->second.waiters, &entry->second.next_waiters}) {
      auto it = std::find_if(list->begin(), list->end(),
                             [waiter_id](const Waiter& w) { return w.id == waiter_id; });
      if (it == list->end()) continue;
      done = std::move(it->done);
      list->erase(it);
      break;
    }
  }
  if (!done) return;  // answered meanwhile
  // The words of a read of its own that ran out of time (NatsConnection's),
  // so a caller's answer does not depend on whether it had company.
  done(UnavailableError(fmt::format(
      "NATS did not answer within the request deadline (connection \"{}\"; the read of this "
      "consumer already in flight, which this call joined, goes on)",
      key.connection)));
}

void CoalescingLagSource::ReadLag(const ConsumerKey& key, SteadyTime deadline,
                                  LagCallback done) {
  Read(key, std::nullopt, deadline, std::move(done));
}

void CoalescingLagSource::ReadLagSentAfter(const ConsumerKey& key, SteadyTime not_before,
                                           SteadyTime deadline, LagCallback done) {
  Read(key, not_before, deadline, std::move(done));
}

void CoalescingLagSource::Read(const ConsumerKey& key, std::optional<SteadyTime> not_before,
                               SteadyTime deadline, LagCallback done) {
  std::optional<LagResult> cached;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const SteadyTime now = clock_.Now();
    SweepLocked(now);
    Entry& entry = entries_[key];
    if (entry.in_flight) {
      Waiter waiter{std::move(done), deadline, next_waiter_id_++};
      ArmLocked(key, waiter, entry.read_deadline);
      if (!not_before.has_value() || entry.sent_at >= *not_before) {
        entry.waiters.push_back(std::move(waiter));
      } else {
        // Its reply may predate what this caller must see: one more read
        // starts when it completes.
        entry.next_waiters.push_back(std::move(waiter));
      }
      return;
    }
    const bool fresh = not_before.has_value() ? entry.sent_at >= *not_before
                                              : now - entry.fetched_at < ttl_;
    if (entry.result.has_value() && fresh) {
      cached = entry.result;
    } else {
      entry.in_flight = true;
      entry.sent_at = now;
      entry.read_deadline = deadline;
      entry.waiters.push_back({std::move(done), deadline, next_waiter_id_++});
    }
  }
  if (cached.has_value()) {
    observer_.OnCacheHit();
    done(*cached);
    return;
  }
  // Outside the lock: the upstream may complete inline.
  upstream_.ReadLag(key, deadline,
                    [this, key](const LagResult& result) { Complete(key, result); });
}

void CoalescingLagSource::Complete(const ConsumerKey& key, const LagResult& result) {
  std::vector<Waiter> answered;
  bool read_again = false;
  SteadyTime again_deadline{};
  {
    std::lock_guard<std::mutex> lock(mu_);
    Entry& entry = entries_[key];
    const SteadyTime now = clock_.Now();
    // An error at or after the read's own deadline says more about the
    // deadline than about NATS: it is not cached, and callers with time left
    // get a read of their own instead of it.
    const bool deadline_error = !result.ok() && now >= entry.read_deadline;
    std::vector<Waiter> again;
    if (!deadline_error) {
      entry.result = result;
      entry.fetched_at = now;
      answered.swap(entry.waiters);
    } else {
      for (auto& waiter : entry.waiters) {
        (waiter.deadline > now ? again : answered).push_back(std::move(waiter));
      }
      entry.waiters.clear();
    }
    // Readers that needed a later request join the next one.
    for (auto& waiter : entry.next_waiters) again.push_back(std::move(waiter));
    entry.next_waiters.clear();
    entry.in_flight = !again.empty();
    if (entry.in_flight) {
      read_again = true;
      again_deadline = again.front().deadline;
      for (const auto& waiter : again) again_deadline = std::max(again_deadline, waiter.deadline);
      entry.sent_at = now;
      entry.read_deadline = again_deadline;
      for (auto& waiter : again) ArmLocked(key, waiter, again_deadline);
      entry.waiters = std::move(again);
    }
  }
  observer_.OnLagRead(key, result);
  for (auto& waiter : answered) {
    // No effect if it is running: Expire then finds the waiter gone.
    if (waiter.timer != 0) scheduler_->Cancel(waiter.timer);
    waiter.done(result);
  }
  if (read_again) {
    upstream_.ReadLag(key, again_deadline,
                      [this, key](const LagResult& r) { Complete(key, r); });
  }
}

void CoalescingLagSource::SweepLocked(SteadyTime now) {
  if (now - last_sweep_ < std::max(ttl_, kMinSweepInterval)) return;
  last_sweep_ = now;
  for (auto it = entries_.begin(); it != entries_.end();) {
    const Entry& e = it->second;
    const bool stale = !e.result.has_value() || now - e.fetched_at >= ttl_;
    if (!e.in_flight && stale) {
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
  observer_.OnCacheSize(entries_.size());
}

size_t CoalescingLagSource::EntryCountForTest() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

}  // namespace jss::core
