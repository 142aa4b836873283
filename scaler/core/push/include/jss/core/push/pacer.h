#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>

#include "jss/core/base/clock.h"
#include "jss/core/base/scheduler.h"

namespace jss::core {

// Spreads work that sends JetStream API requests over time, so that a burst
// (10,000 KEDA streams opening at once after a KEDA restart) reaches the NATS
// cluster that every tenant shares at a bounded rate.
class Pacer {
 public:
  virtual ~Pacer() = default;
  // Runs `start` now or later (then on the scheduler's thread). Urgent work
  // (a publish to look at) goes ahead of queued routine work.
  virtual void Submit(bool urgent, std::function<void()> start) = 0;
};

// A token bucket: at most `per_second` starts per second on average, and
// bursts of at most `burst` when the bucket is full. per_second <= 0 means
// no limit: everything runs inline.
class RatePacer final : public Pacer {
 public:
  RatePacer(Scheduler& scheduler, const Clock& clock, double per_second, double burst);
  ~RatePacer() override;

  void Submit(bool urgent, std::function<void()> start) override;
  size_t Queued() const;

 private:
  void RefillLocked(SteadyTime now);
  void ScheduleDrainLocked();
  void Drain();

  Scheduler& scheduler_;
  const Clock& clock_;
  const double per_second_;
  const double burst_;

  mutable std::mutex mu_;
  double tokens_;
  SteadyTime refilled_at_;
  std::deque<std::function<void()>> urgent_;
  std::deque<std::function<void()>> routine_;
  Scheduler::TaskId drain_ = 0;
  bool drain_scheduled_ = false;
};

}  // namespace jss::core
