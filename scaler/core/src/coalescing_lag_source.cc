#include "jss/core/coalescing_lag_source.h"

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
                                         LagObserver& observer)
    : upstream_(upstream), clock_(clock), ttl_(ttl), observer_(observer) {
  last_sweep_ = clock_.Now();
}

void CoalescingLagSource::ReadLag(const ConsumerKey& key, SteadyTime deadline,
                                  LagCallback done) {
  std::optional<LagResult> cached;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const SteadyTime now = clock_.Now();
    SweepLocked(now);
    Entry& entry = entries_[key];
    if (entry.in_flight) {
      entry.waiters.push_back(std::move(done));
      return;
    }
    if (entry.result.has_value() && now - entry.fetched_at < ttl_) {
      cached = entry.result;
    } else {
      entry.in_flight = true;
      entry.waiters.push_back(std::move(done));
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
  std::vector<LagCallback> waiters;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Entry& entry = entries_[key];
    entry.in_flight = false;
    entry.result = result;
    entry.fetched_at = clock_.Now();
    waiters.swap(entry.waiters);
  }
  observer_.OnLagRead(key, result);
  for (auto& waiter : waiters) waiter(result);
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
