#include "jss/core/activity_hub.h"

#include <gtest/gtest.h>

#include <map>
#include <vector>

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

class FakeWakeups final : public WakeupSource {
 public:
  class FakeHandle final : public Handle {
   public:
    explicit FakeHandle(FakeWakeups* owner) : owner_(owner) { ++owner_->active; }
    ~FakeHandle() override {
      --owner_->active;
      owner_->fire = nullptr;
    }

   private:
    FakeWakeups* owner_;
  };
  std::unique_ptr<Handle> Watch(const ConsumerKey&, std::function<void()> on_activity) override {
    fire = std::move(on_activity);
    return std::make_unique<FakeHandle>(this);
  }
  std::function<void()> fire;
  int active = 0;
};

class CountingObserver final : public ActivityObserver {
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
  int failed_reads = 0;
  int failing = 0;
  size_t watchers = 0;
  size_t streams = 0;
  int wakeups = 0;
};

// What one subscriber was told, in order. Shared with the listener, which
// the hub may still call (with UNAVAILABLE) when it shuts down after the test.
class Inbox {
 public:
  ActivityHub::Listener Listener() {
    return [record = record_](const ActivityHub::Update& u) {
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

class ActivityHubTest : public ::testing::Test {
 protected:
  ManualLagSource source_;
  ManualScheduler scheduler_;
  FakeClock clock_;
  FakeWakeups wakeups_;
  CountingObserver observer_;
  ActivityHub hub_{source_, scheduler_, clock_, &wakeups_, milliseconds(2000), &observer_};
};

TEST_F(ActivityHubTest, FirstSubscriberReadsOnceAndIsToldTheActivity) {
  Inbox inbox;
  hub_.Subscribe(kKey, 0, kInterval, inbox.Listener());
  EXPECT_EQ(source_.reads(), 1);
  EXPECT_TRUE(inbox.values().empty()) << "nothing is sent before NATS answered";
  source_.Complete(Lag(0));
  EXPECT_EQ(inbox.values(), std::vector<bool>{false});
  EXPECT_EQ(scheduler_.OnlyDelay(), kInterval);
}

TEST_F(ActivityHubTest, OnlyChangesAreSent) {
  Inbox inbox;
  hub_.Subscribe(kKey, 0, kInterval, inbox.Listener());
  source_.Complete(Lag(0));
  const struct {
    ConsumerLag lag;
    std::vector<bool> told;
  } steps[] = {
      {Lag(0), {false}},
      {Lag(3), {false, true}},
      {Lag(0, 2), {false, true}},  // ack-pending alone keeps it active
      {Lag(7), {false, true}},
      {Lag(0), {false, true, false}},
  };
  for (const auto& step : steps) {
    scheduler_.RunAll();
    source_.Complete(step.lag);
    EXPECT_EQ(inbox.values(), step.told);
  }
}

TEST_F(ActivityHubTest, HundredSubscribersShareOneWatcherAndOneRead) {
  std::vector<Inbox> inboxes(100);
  for (auto& inbox : inboxes) hub_.Subscribe(kKey, 0, kInterval, inbox.Listener());
  EXPECT_EQ(source_.reads(), 1);
  EXPECT_EQ(hub_.WatcherCount(), 1u);
  EXPECT_EQ(observer_.watchers, 1u);
  EXPECT_EQ(observer_.streams, 100u);
  source_.Complete(Lag(4));
  for (const auto& inbox : inboxes) EXPECT_EQ(inbox.values(), std::vector<bool>{true});
  scheduler_.RunAll();
  EXPECT_EQ(source_.reads(), 2) << "one read per interval, not per subscriber";
}

TEST_F(ActivityHubTest, LateSubscriberIsAnsweredFromTheWatchersLastRead) {
  Inbox first;
  Inbox late;
  hub_.Subscribe(kKey, 0, kInterval, first.Listener());
  source_.Complete(Lag(2));
  hub_.Subscribe(kKey, 0, kInterval, late.Listener());
  EXPECT_EQ(late.values(), std::vector<bool>{true});
  EXPECT_EQ(source_.reads(), 1);
}

TEST_F(ActivityHubTest, EachSubscriberUsesItsOwnActivationThreshold) {
  Inbox eager;
  Inbox patient;
  hub_.Subscribe(kKey, 0, kInterval, eager.Listener());
  hub_.Subscribe(kKey, 10, kInterval, patient.Listener());
  source_.Complete(Lag(5));
  EXPECT_EQ(eager.values(), std::vector<bool>{true});
  EXPECT_EQ(patient.values(), std::vector<bool>{false});
}

TEST_F(ActivityHubTest, ATransientErrorKeepsEverySubscriptionOpenAndRetriesWithBackoff) {
  Inbox a;
  Inbox b;
  hub_.Subscribe(kKey, 0, kInterval, a.Listener());
  hub_.Subscribe(kKey, 0, kInterval, b.Listener());
  const Status transient[] = {UnavailableError("nats down"), ResourceExhaustedError("busy"),
                              Status(StatusCode::kDeadlineExceeded, "slow"),
                              NotFoundError("consumer not created yet")};
  milliseconds previous{0};
  for (const Status& error : transient) {
    source_.Complete(error);
    ASSERT_TRUE(scheduler_.OnlyDelay().has_value()) << "a retry is scheduled";
    const milliseconds delay = *scheduler_.OnlyDelay();
    EXPECT_GE(delay, ActivityHub::kRetryFirst * 3 / 4);
    EXPECT_LE(delay, ActivityHub::kRetryCap);
    EXPECT_GT(delay, previous) << "the back-off grows";
    previous = delay;
    scheduler_.RunAll();
  }
  EXPECT_EQ(observer_.failed_reads, 4);
  EXPECT_EQ(observer_.failing, 1) << "one failing watcher";
  for (const Inbox* inbox : {&a, &b}) {
    EXPECT_TRUE(inbox->values().empty()) << "never a guessed value";
    EXPECT_TRUE(inbox->ends().empty()) << "the streams stay open";
  }
  EXPECT_EQ(hub_.WatcherCount(), 1u);
  source_.Complete(Lag(3));
  EXPECT_EQ(a.values(), std::vector<bool>{true});
  EXPECT_EQ(b.values(), std::vector<bool>{true});
  EXPECT_EQ(observer_.failing, 0);
}

TEST_F(ActivityHubTest, TheRetryBackoffIsCapped) {
  Inbox inbox;
  hub_.Subscribe(kKey, 0, kInterval, inbox.Listener());
  for (int i = 0; i < 20; ++i) {
    source_.Complete(UnavailableError("nats down"));
    ASSERT_TRUE(scheduler_.OnlyDelay().has_value());
    EXPECT_LE(*scheduler_.OnlyDelay(), ActivityHub::kRetryCap);
    scheduler_.RunAll();
  }
  EXPECT_GE(*scheduler_.OnlyDelay(), ActivityHub::kRetryCap * 3 / 4);
}

TEST_F(ActivityHubTest, OnlyInvalidArgumentAndPermissionDeniedEndTheSubscriptions) {
  for (const Status& error : {InvalidArgumentError("bad"), PermissionDeniedError("no")}) {
    Inbox a;
    Inbox b;
    hub_.Subscribe(kKey, 0, kInterval, a.Listener());
    hub_.Subscribe(kKey, 0, kInterval, b.Listener());
    source_.Complete(error);
    for (const Inbox* inbox : {&a, &b}) {
      EXPECT_TRUE(inbox->values().empty());
      ASSERT_EQ(inbox->ends().size(), 1u);
      EXPECT_EQ(inbox->ends()[0].code(), error.code());
    }
    EXPECT_EQ(hub_.WatcherCount(), 0u);
    EXPECT_TRUE(scheduler_.tasks.empty());
  }
}

TEST_F(ActivityHubTest, AnErrorAfterValuesSendsNothingUntilAReadSucceeds) {
  Inbox inbox;
  hub_.Subscribe(kKey, 0, kInterval, inbox.Listener());
  source_.Complete(Lag(9));
  scheduler_.RunAll();
  source_.Complete(NotFoundError("consumer deleted"));
  EXPECT_EQ(inbox.values(), std::vector<bool>{true});
  EXPECT_TRUE(inbox.ends().empty());
  scheduler_.RunAll();
  source_.Complete(Lag(0));
  EXPECT_EQ(inbox.values(), (std::vector<bool>{true, false}));
}

TEST_F(ActivityHubTest, TheFastestSubscriberSetsTheInterval) {
  Inbox slow;
  Inbox fast;
  hub_.Subscribe(kKey, 0, milliseconds(5000), slow.Listener());
  source_.Complete(Lag(0));
  EXPECT_EQ(scheduler_.OnlyDelay(), milliseconds(5000));
  hub_.Subscribe(kKey, 0, milliseconds(100), fast.Listener());
  EXPECT_EQ(scheduler_.OnlyDelay(), milliseconds(100));
}

TEST_F(ActivityHubTest, WakeupIsHeldOnlyWhileSomeSubscriberIsInactive) {
  Inbox inbox;
  hub_.Subscribe(kKey, 0, kInterval, inbox.Listener());
  EXPECT_EQ(wakeups_.active, 0) << "not before the first read";
  source_.Complete(Lag(0));
  EXPECT_EQ(wakeups_.active, 1);
  ASSERT_TRUE(wakeups_.fire);
  wakeups_.fire();
  EXPECT_EQ(source_.reads(), 2) << "a publish reads at once";
  EXPECT_TRUE(scheduler_.tasks.empty()) << "the poll timer gives way to the wake-up read";
  EXPECT_EQ(observer_.wakeups, 1);
  source_.Complete(Lag(1));
  EXPECT_EQ(inbox.values(), (std::vector<bool>{false, true}));
  EXPECT_EQ(wakeups_.active, 0) << "active: polling sees the drain, no need to listen";
}

TEST_F(ActivityHubTest, APublishDuringAReadTriggersAnotherRead) {
  Inbox inbox;
  hub_.Subscribe(kKey, 0, kInterval, inbox.Listener());
  source_.Complete(Lag(0));
  wakeups_.fire();  // read 2 in flight
  wakeups_.fire();  // its reply may predate this publish
  EXPECT_EQ(source_.reads(), 2);
  clock_.Advance(ActivityHub::kMinWakeupGap);
  source_.Complete(Lag(0));
  EXPECT_EQ(source_.reads(), 3);
  source_.Complete(Lag(1));
  EXPECT_EQ(inbox.values(), (std::vector<bool>{false, true}));
}

TEST_F(ActivityHubTest, WakeupReadsAreSpacedOnABusySubject) {
  Inbox inbox;
  hub_.Subscribe(kKey, 100, kInterval, inbox.Listener());  // stays inactive below 100
  source_.Complete(Lag(0));
  wakeups_.fire();
  source_.Complete(Lag(1));
  EXPECT_EQ(source_.reads(), 2);
  for (int i = 0; i < 50; ++i) wakeups_.fire();  // a burst within the gap
  EXPECT_EQ(source_.reads(), 2) << "the burst waits for the gap";
  ASSERT_TRUE(scheduler_.OnlyDelay().has_value());
  EXPECT_LE(*scheduler_.OnlyDelay(), ActivityHub::kMinWakeupGap);
  clock_.Advance(ActivityHub::kMinWakeupGap);
  scheduler_.RunAll();
  EXPECT_EQ(source_.reads(), 3) << "one read covers the whole burst";
}

TEST_F(ActivityHubTest, LastUnsubscribeDropsTheWatcherAndIgnoresItsRead) {
  Inbox inbox;
  const auto id = hub_.Subscribe(kKey, 0, kInterval, inbox.Listener());
  hub_.Unsubscribe(id);
  EXPECT_EQ(hub_.WatcherCount(), 0u);
  EXPECT_EQ(observer_.streams, 0u);
  source_.Complete(Lag(5));
  EXPECT_TRUE(inbox.values().empty());
  EXPECT_TRUE(scheduler_.tasks.empty());
}

TEST_F(ActivityHubTest, UnsubscribingOneKeepsTheOthersWatched) {
  Inbox stays;
  Inbox leaves;
  hub_.Subscribe(kKey, 0, kInterval, stays.Listener());
  const auto id = hub_.Subscribe(kKey, 0, kInterval, leaves.Listener());
  source_.Complete(Lag(0));
  hub_.Unsubscribe(id);
  scheduler_.RunAll();
  source_.Complete(Lag(2));
  EXPECT_EQ(stays.values(), (std::vector<bool>{false, true}));
  EXPECT_EQ(leaves.values(), std::vector<bool>{false});
}

TEST_F(ActivityHubTest, AWatcherRestartsCleanlyAfterATerminalError) {
  Inbox first;
  hub_.Subscribe(kKey, 0, kInterval, first.Listener());
  source_.Complete(PermissionDeniedError("denied"));
  Inbox again;  // KEDA reconnects
  hub_.Subscribe(kKey, 0, kInterval, again.Listener());
  EXPECT_EQ(source_.reads(), 2);
  source_.Complete(Lag(0));
  EXPECT_EQ(again.values(), std::vector<bool>{false});
  EXPECT_EQ(first.values(), std::vector<bool>{});
}

TEST_F(ActivityHubTest, ShutdownEndsEverySubscriptionWithOkAndRefusesNewOnes) {
  Inbox inbox;
  hub_.Subscribe(kKey, 0, kInterval, inbox.Listener());
  source_.Complete(Lag(0));
  hub_.Shutdown();
  ASSERT_EQ(inbox.ends().size(), 1u);
  EXPECT_TRUE(inbox.ends()[0].ok());
  EXPECT_EQ(wakeups_.active, 0);
  EXPECT_TRUE(scheduler_.tasks.empty());
  Inbox late;
  hub_.Subscribe(kKey, 0, kInterval, late.Listener());
  ASSERT_EQ(late.ends().size(), 1u);
  EXPECT_TRUE(late.ends()[0].ok());
  EXPECT_EQ(source_.reads(), 1);
}

TEST_F(ActivityHubTest, WithoutAWakeupSourcePollingAloneWorks) {
  ActivityHub polling(source_, scheduler_, clock_, nullptr, milliseconds(2000), nullptr);
  Inbox inbox;
  polling.Subscribe(kKey, 0, kInterval, inbox.Listener());
  source_.Complete(Lag(0));
  scheduler_.RunAll();
  source_.Complete(Lag(1));
  EXPECT_EQ(inbox.values(), (std::vector<bool>{false, true}));
}

}  // namespace
}  // namespace jss::core
