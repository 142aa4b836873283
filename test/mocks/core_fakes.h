#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <vector>

#include "jss/core/clock.h"
#include "jss/core/lag_source.h"

namespace jss::core {

// A clock that moves only when the test says so.
class FakeClock final : public Clock {
 public:
  SteadyTime Now() const override { return now_; }
  void Advance(std::chrono::milliseconds d) { now_ += d; }

 private:
  SteadyTime now_ = SteadyTime() + std::chrono::hours(1);
};

// Records every read and completes them only when the test says so.
class ManualLagSource final : public LagSource {
 public:
  void ReadLag(const ConsumerKey& key, SteadyTime deadline, LagCallback done) override {
    keys.push_back(key);
    deadlines.push_back(deadline);
    pending.push_back(std::move(done));
  }
  int reads() const { return static_cast<int>(keys.size()); }
  // Completes the oldest read in flight.
  void Complete(const LagResult& result) {
    ASSERT_FALSE(pending.empty()) << "no read in flight";
    auto cb = std::move(pending.front());
    pending.erase(pending.begin());
    cb(result);
  }
  // Completes every read in flight (callbacks may start new ones).
  void CompleteAll(const LagResult& result) {
    auto callbacks = std::move(pending);
    pending.clear();
    for (auto& cb : callbacks) cb(result);
  }

  std::vector<ConsumerKey> keys;  // one per read, in order
  std::vector<SteadyTime> deadlines;  // of each read, in order
  std::vector<LagCallback> pending;
};

}  // namespace jss::core
