#include "jss/core/base/scheduler.h"

namespace jss::core {

ThreadScheduler::ThreadScheduler() : thread_([this] { Loop(); }) {}

ThreadScheduler::~ThreadScheduler() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    tasks_.clear();
    due_by_id_.clear();
  }
  cv_.notify_all();
  thread_.join();
}

Scheduler::TaskId ThreadScheduler::RunAfter(std::chrono::milliseconds delay,
                                            std::function<void()> task) {
  std::lock_guard<std::mutex> lock(mu_);
  const TaskId id = next_id_++;
  const auto due = std::chrono::steady_clock::now() + delay;
  const bool earliest = tasks_.empty() || due < tasks_.begin()->first.first;
  tasks_.emplace(std::make_pair(due, id), std::move(task));
  due_by_id_.emplace(id, due);
  if (earliest) cv_.notify_all();
  return id;
}

void ThreadScheduler::Cancel(TaskId id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = due_by_id_.find(id);
  if (it == due_by_id_.end()) return;
  tasks_.erase(std::make_pair(it->second, id));
  due_by_id_.erase(it);
}

void ThreadScheduler::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    if (tasks_.empty()) {
      cv_.wait(lock);
      continue;
    }
    const auto due = tasks_.begin()->first.first;
    if (std::chrono::steady_clock::now() < due) {
      cv_.wait_until(lock, due);
      continue;
    }
    auto node = tasks_.extract(tasks_.begin());
    due_by_id_.erase(node.key().second);
    lock.unlock();
    node.mapped()();
    lock.lock();
  }
}

}  // namespace jss::core
