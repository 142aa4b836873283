#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

namespace jss::core {

// Runs callbacks later. Injected so that watchers are testable step by step.
class Scheduler {
 public:
  using TaskId = uint64_t;
  virtual ~Scheduler() = default;
  // `task` runs once on the scheduler's thread after `delay`, unless cancelled.
  virtual TaskId RunAfter(std::chrono::milliseconds delay, std::function<void()> task) = 0;
  // No effect if the task already ran or started.
  virtual void Cancel(TaskId id) = 0;
};

// One thread, one ordered queue of deadlines.
class ThreadScheduler final : public Scheduler {
 public:
  ThreadScheduler();
  ~ThreadScheduler() override;  // drops pending tasks, joins the thread
  TaskId RunAfter(std::chrono::milliseconds delay, std::function<void()> task) override;
  void Cancel(TaskId id) override;

 private:
  void Loop();

  std::mutex mu_;
  std::condition_variable cv_;
  // (due time, id) -> task; ids keep equal due times distinct and ordered.
  std::map<std::pair<std::chrono::steady_clock::time_point, TaskId>, std::function<void()>> tasks_;
  std::map<TaskId, std::chrono::steady_clock::time_point> due_by_id_;
  TaskId next_id_ = 1;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace jss::core
