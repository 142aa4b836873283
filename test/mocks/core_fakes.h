#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <map>
#include <vector>

#include "jss/core/base/clock.h"
#include "jss/core/base/scheduler.h"
#include "jss/core/lag/lag_source.h"

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

// Holds tasks with their delays; runs them only when the test says so.
class FakeScheduler final : public Scheduler {
 public:
  TaskId RunAfter(std::chrono::milliseconds delay, std::function<void()> task) override {
    const TaskId id = next_++;
    tasks[id] = {delay, std::move(task)};
    return id;
  }
  void Cancel(TaskId id) override { tasks.erase(id); }
  // Runs (and removes) every task whose delay is at most `elapsed`, in id order.
  void RunDue(std::chrono::milliseconds elapsed) {
    std::vector<std::function<void()>> due;
    for (auto it = tasks.begin(); it != tasks.end();) {
      if (it->second.first <= elapsed) {
        due.push_back(std::move(it->second.second));
        it = tasks.erase(it);
      } else {
        ++it;
      }
    }
    for (auto& task : due) task();
  }
  std::map<TaskId, std::pair<std::chrono::milliseconds, std::function<void()>>> tasks;

 private:
  TaskId next_ = 1;
};

}  // namespace jss::core
