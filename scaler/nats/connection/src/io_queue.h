#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>

namespace jss::nats {

// One thread that runs queued socket operations in order, so that a socket
// write that blocks (a peer that stopped reading) holds up this thread only,
// never a gRPC, scheduler or cnats delivery thread. Post never blocks: the
// queue of ordinary operations is bounded, and after Stop only clean-up
// operations still run (inline, on the caller's thread).
class IoQueue {
 public:
  explicit IoQueue(size_t capacity) : capacity_(capacity) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~IoQueue() { Stop(); }

  // False when the queue is full or stopped (`op` did not and will not run).
  bool Post(std::function<void()> op) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_ || ops_.size() >= capacity_) return false;
      ops_.push_back({std::move(op), false});
    }
    cv_.notify_one();
    return true;
  }

  // Always runs `op`: queued behind earlier operations, or inline once stopped.
  void PostCleanup(std::function<void()> op) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (!stopping_) {
        ops_.push_back({std::move(op), true});
        lock.unlock();
        cv_.notify_one();
        return;
      }
    }
    op();
  }

  // Drops queued ordinary operations, runs queued clean-ups, joins the thread.
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
  }

 private:
  struct Op {
    std::function<void()> run;
    bool cleanup;
  };

  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [this] { return stopping_ || !ops_.empty(); });
      if (ops_.empty()) return;  // stopping, nothing left
      Op op = std::move(ops_.front());
      ops_.pop_front();
      if (stopping_ && !op.cleanup) continue;
      lock.unlock();
      op.run();
      lock.lock();
    }
  }

  const size_t capacity_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Op> ops_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace jss::nats
