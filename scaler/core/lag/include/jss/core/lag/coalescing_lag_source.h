#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "jss/core/base/clock.h"
#include "jss/core/base/scheduler.h"
#include "jss/core/lag/lag_source.h"
#include "jss/core/lag/observer.h"

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
//  - With a scheduler, every caller keeps its own deadline: one that joins a
//    read due to end later is answered at its deadline with the typed
//    UNAVAILABLE a read of its own would have given, not left to its gRPC
//    deadline's bare DEADLINE_EXCEEDED; the shared read goes on for the rest.
//  - Entries that are stale and idle are dropped, so memory follows the set
//    of consumers that are actually being asked about.
//  - ReadLagSentAfter (push watchers) shares the same entries: it takes a
//    result or joins a read only if that request was sent late enough, else
//    queues one more read that starts when the one in flight completes.
class CoalescingLagSource final : public LagSource {
 public:
  // `scheduler` (may be null: then a waiter is answered only when the read
  // ends) runs waiters' deadlines; it must not run a task after this is gone
  // (its tasks check a lifeline, so destroying this first is safe as well).
  CoalescingLagSource(LagSource& upstream, const Clock& clock,
                      std::chrono::milliseconds ttl, LagObserver& observer,
                      Scheduler* scheduler = nullptr);
  ~CoalescingLagSource() override;

  void ReadLag(const ConsumerKey& key, SteadyTime deadline, LagCallback done) override;
  void ReadLagSentAfter(const ConsumerKey& key, SteadyTime not_before, SteadyTime deadline,
                        LagCallback done) override;

  size_t EntryCountForTest() const;

 private:
  struct Waiter {
    LagCallback done;
    SteadyTime deadline;
    uint64_t id = 0;
    Scheduler::TaskId timer = 0;  // 0: answered only when the read ends
  };
  // Tasks run only while this lives (see NatsConnection's the same).
  struct Lifeline {
    std::mutex mu;
    bool alive = true;
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
  // A waiter's own deadline came before the read it joined ended.
  void Expire(const ConsumerKey& key, uint64_t waiter_id);
  // Gives `waiter` a timer at its deadline if `read_deadline` is later and it
  // has none. Caller holds mu_.
  void ArmLocked(const ConsumerKey& key, Waiter& waiter, SteadyTime read_deadline);
  // Caller holds mu_.
  void SweepLocked(SteadyTime now);

  LagSource& upstream_;
  const Clock& clock_;
  const std::chrono::milliseconds ttl_;
  LagObserver& observer_;
  Scheduler* const scheduler_;
  const std::shared_ptr<Lifeline> lifeline_ = std::make_shared<Lifeline>();

  mutable std::mutex mu_;
  std::unordered_map<ConsumerKey, Entry, ConsumerKeyHash> entries_;
  SteadyTime last_sweep_{};
  uint64_t next_waiter_id_ = 1;
};

}  // namespace jss::core
