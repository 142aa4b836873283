#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "jss/core/clock.h"
#include "jss/core/lag_source.h"
#include "jss/core/observer.h"

namespace jss::core {

// Puts many readers of one consumer behind a single upstream read.
//  - Concurrent readers of the same key share the one request in flight.
//  - A completed result (value or error) is served for `ttl`; an error stays an
//    error, so an outage cannot be turned into a number, but a burst of
//    callers during it costs NATS one request per window.
//  - ttl == 0 disables reuse; concurrent readers are still coalesced.
//  - A shared read runs under the deadline of the caller that started it. If
//    it fails once that deadline has passed (a caller's too-short deadline,
//    not an answer from NATS), the error is neither cached nor given to
//    callers whose own deadline has not passed: they get a new read under the
//    latest of their deadlines. One caller's tiny deadline cannot fail others.
//  - Entries that are stale and idle are dropped, so memory follows the set
//    of consumers that are actually being asked about.
//  - ReadLagSentAfter (push watchers) shares the same entries: it takes a
//    result or joins a read only if that request was sent late enough, else
//    queues one more read that starts when the one in flight completes.
class CoalescingLagSource final : public LagSource {
 public:
  CoalescingLagSource(LagSource& upstream, const Clock& clock,
                      std::chrono::milliseconds ttl, LagObserver& observer);

  void ReadLag(const ConsumerKey& key, SteadyTime deadline, LagCallback done) override;
  void ReadLagSentAfter(const ConsumerKey& key, SteadyTime not_before, SteadyTime deadline,
                        LagCallback done) override;

  size_t EntryCountForTest() const;

 private:
  struct Waiter {
    LagCallback done;
    SteadyTime deadline;
  };
  struct Entry {
    std::optional<LagResult> result;
    SteadyTime fetched_at{};
    bool in_flight = false;
    SteadyTime sent_at{};        // of the read in flight, or of `result`
    SteadyTime read_deadline{};  // of the read in flight
    std::vector<Waiter> waiters;
    // Readers that need a request sent after the one in flight.
    std::vector<Waiter> next_waiters;
  };

  // not_before: ReadLagSentAfter; none: ReadLag (the ttl decides).
  void Read(const ConsumerKey& key, std::optional<SteadyTime> not_before, SteadyTime deadline,
            LagCallback done);
  void Complete(const ConsumerKey& key, const LagResult& result);
  // Caller holds mu_.
  void SweepLocked(SteadyTime now);

  LagSource& upstream_;
  const Clock& clock_;
  const std::chrono::milliseconds ttl_;
  LagObserver& observer_;

  mutable std::mutex mu_;
  std::unordered_map<ConsumerKey, Entry, ConsumerKeyHash> entries_;
  SteadyTime last_sweep_{};
};

}  // namespace jss::core
