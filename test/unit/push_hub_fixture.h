#pragma once

// The push hub's unit-test fixture: a scheduler, wake-up source, observer and
// inbox the test drives by hand (push_hub_test.cc, push_hub_age_test.cc).

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "jss/core/push/push_hub.h"
#include "mocks/core_fakes.h"

namespace jss::core {
namespace {

using std::chrono::milliseconds;

// Tasks run only when the test says so.
class ManualScheduler final : public Scheduler {
 public:
  TaskId RunAfter(milliseconds delay, std::function<void()> task) override {
    const TaskId id = next_++;
    tasks[id] = {delay, std::move(task)};
    return id;
  }
  void Cancel(TaskId id) override { tasks.erase(id); }
  // Runs every task that is due now (in id order).
  void RunAll() {
    auto due = std::move(tasks);
    tasks.clear();
    for (auto& [id, t] : due) t.second();
  }
  std::optional<milliseconds> OnlyDelay() const {
    if (tasks.size() != 1) return std::nullopt;
    return tasks.begin()->second.first;
  }
  std::map<TaskId, std::pair<milliseconds, std::function<void()>>> tasks;

 private:
  TaskId next_ = 1;
};

// A wake-up the test drives: it says when the watch is live and fires it.
class FakeWakeups final : public WakeupSource {
 public:
  class FakeHandle final : public Handle {
   public:
    explicit FakeHandle(FakeWakeups* owner) : owner_(owner) { ++owner_->handles; }
    ~FakeHandle() override {
      --owner_->handles;
      owner_->armed = false;
    }
    bool Rearm() override {
      ++owner_->rearms;
      owner_->armed = owner_->rearm_ok;
      return owner_->rearm_ok;
    }
    void Disarm() override { owner_->armed = false; }

   private:
    FakeWakeups* owner_;
  };
  std::unique_ptr<Handle> Watch(const ConsumerKey&, Callbacks callbacks) override {
    ++watches;
    callbacks_ = std::move(callbacks);
    return std::make_unique<FakeHandle>(this);
  }
  // Finishes the set-up of the latest Watch().
  void Ready(bool live) {
    armed = live;
    callbacks_.on_ready(live);
  }
  // NATS refused the subscription after the set-up (asynchronously).
  void Lose() {
    armed = false;
    callbacks_.on_lost();
  }
  void SetResyncHandler(ResyncHandler handler) override { resync_ = std::move(handler); }
  // NATS reconnected `connection`.
  void Reconnected(const std::string& connection) {
    if (resync_) resync_(connection);
  }
  // A publish: reported only while armed (then disarmed until Rearm).
  bool Fire() {
    if (!armed) return false;
    armed = false;
    callbacks_.on_activity();
    return true;
  }
  int handles = 0;
  int watches = 0;
  int rearms = 0;
  bool armed = false;
  bool rearm_ok = true;

 private:
  Callbacks callbacks_;
  ResyncHandler resync_;
};

class CountingObserver final : public PushObserver {
 public:
  void OnWatchers(size_t w, size_t s) override {
    watchers = w;
    streams = s;
  }
  void OnWakeup() override { ++wakeups; }
  void OnWakeupSubscriptions(int) override {}
  void OnReadFailed(const ConsumerKey&, std::string_view, const Status&, bool first) override {
    ++failed_reads;
    failing += first ? 1 : 0;
  }
  void OnReadRecovered(const ConsumerKey&) override { --failing; }
  void OnPollingFallback(size_t n) override { fallback = n; }
  void OnWakeupFollowUp(const ConsumerKey&, int attempt) override {
    followup_attempts.push_back(attempt);
  }
  std::vector<int> followup_attempts;
  int failed_reads = 0;
  int failing = 0;
  size_t fallback = 0;
  size_t watchers = 0;
  size_t streams = 0;
  int wakeups = 0;
};

// What one subscriber was told, in order. Shared with the listener, which
// the hub may still call (with UNAVAILABLE) when it shuts down after the test.
class Inbox {
 public:
  PushHub::Listener Listener() {
    return [record = record_](const PushHub::Update& u) {
      if (u.active.has_value()) {
        EXPECT_TRUE(record->ends.empty()) << "a value after the end";
        record->values.push_back(*u.active);
      } else {
        record->ends.push_back(u.end);
      }
    };
  }
  const std::vector<bool>& values() const { return record_->values; }
  // How the subscription ended (at most once): OK or an error.
  const std::vector<Status>& ends() const { return record_->ends; }

 private:
  struct Record {
    std::vector<bool> values;
    std::vector<Status> ends;
  };
  std::shared_ptr<Record> record_ = std::make_shared<Record>();
};

ConsumerLag Lag(uint64_t pending, uint64_t ack_pending = 0) {
  ConsumerLag lag;
  lag.num_pending = pending;
  lag.num_ack_pending = ack_pending;
  return lag;
}

const ConsumerKey kKey{"default", "ORDERS", "workers"};
constexpr milliseconds kInterval{250};

constexpr milliseconds kResync{30000};

class PushHubTest : public ::testing::Test {
 protected:
  // One subscriber on an idle consumer whose wake-up is live.
  PushHub::SubscriptionId SubscribeIdle(Inbox& inbox, int64_t threshold = 0) {
    const auto id = hub_.Subscribe(kKey, threshold, kInterval, inbox.Listener());
    wakeups_.Ready(true);
    source_.Complete(Lag(0));
    return id;
  }
  static bool IsResyncDelay(std::optional<milliseconds> d) {
    return d.has_value() && *d >= kResync * 3 / 4 && *d <= kResync;
  }

  ManualLagSource source_;
  ManualLagSource age_source_;  // reads of watchers with an age subscriber
  ManualScheduler scheduler_;
  FakeClock clock_;
  FakeWakeups wakeups_;
  CountingObserver observer_;
  PushHub hub_{source_,          scheduler_, clock_, &wakeups_, nullptr,
                   {milliseconds(2000), kResync}, &observer_, &age_source_};
  // The same, without a wake-up source (--push-wakeup=false) or age source.
  PushHub polling_{source_, scheduler_, clock_, nullptr, nullptr,
                       {milliseconds(2000), kResync}, &observer_};
};

}  // namespace
}  // namespace jss::core
