#include "jss/core/push/pacer.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace jss::core {

RatePacer::RatePacer(Scheduler& scheduler, const Clock& clock, double per_second, double burst)
    : scheduler_(scheduler),
      clock_(clock),
      per_second_(per_second),
      burst_(std::max(1.0, burst)),
      tokens_(std::max(1.0, burst)),
      refilled_at_(clock.Now()) {}

RatePacer::~RatePacer() {
  std::lock_guard<std::mutex> lock(mu_);
  scheduler_.Cancel(drain_);
  urgent_.clear();
  routine_.clear();
}

void RatePacer::Submit(bool urgent, std::function<void()> start) {
  if (per_second_ <= 0) {
    start();
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    RefillLocked(clock_.Now());
    if (!(urgent_.empty() && routine_.empty() && tokens_ >= 1)) {
      (urgent ? urgent_ : routine_).push_back(std::move(start));
      ScheduleDrainLocked();
      return;
    }
    tokens_ -= 1;
  }
  start();
}

size_t RatePacer::Queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return urgent_.size() + routine_.size();
}

void RatePacer::RefillLocked(SteadyTime now) {
  const double elapsed = std::chrono::duration<double>(now - refilled_at_).count();
  if (elapsed <= 0) return;
  tokens_ = std::min(burst_, tokens_ + elapsed * per_second_);
  refilled_at_ = now;
}

void RatePacer::ScheduleDrainLocked() {
  if (drain_scheduled_) return;
  drain_scheduled_ = true;
  const double missing = std::max(0.0, 1.0 - tokens_);
  const auto wait = std::chrono::milliseconds(
      static_cast<int64_t>(std::ceil(missing / per_second_ * 1000.0)));
  drain_ = scheduler_.RunAfter(std::max(wait, std::chrono::milliseconds(1)), [this] { Drain(); });
}

void RatePacer::Drain() {
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard<std::mutex> lock(mu_);
    drain_scheduled_ = false;
    RefillLocked(clock_.Now());
    while (tokens_ >= 1 && !(urgent_.empty() && routine_.empty())) {
      auto& queue = urgent_.empty() ? routine_ : urgent_;
      batch.push_back(std::move(queue.front()));
      queue.pop_front();
      tokens_ -= 1;
    }
    if (!(urgent_.empty() && routine_.empty())) ScheduleDrainLocked();
  }
  for (auto& start : batch) start();
}

}  // namespace jss::core
