#include "jss/core/base/scheduler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <vector>

#include "support/test_util.h"

namespace jss::core {
namespace {

using std::chrono::milliseconds;

TEST(ThreadSchedulerTest, RunsTasksInDueOrder) {
  std::mutex mu;
  std::vector<int> order;
  ThreadScheduler scheduler;
  for (int delay : {30, 10, 20, 0}) {
    scheduler.RunAfter(milliseconds(delay), [&, delay] {
      std::lock_guard<std::mutex> lock(mu);
      order.push_back(delay);
    });
  }
  ASSERT_TRUE(jss::testing::WaitFor([&] {
    std::lock_guard<std::mutex> lock(mu);
    return order.size() == 4;
  }));
  EXPECT_EQ(order, (std::vector<int>{0, 10, 20, 30}));
}

TEST(ThreadSchedulerTest, CancelledTasksNeverRun) {
  std::atomic<int> ran{0};
  std::atomic<bool> marker{false};
  {
    ThreadScheduler scheduler;
    const auto id = scheduler.RunAfter(milliseconds(0), [&] { ++ran; });
    scheduler.Cancel(id);  // may already have run: only count the later ones
    const int before = ran.load();
    const auto later = scheduler.RunAfter(milliseconds(50), [&] { ++ran; });
    scheduler.Cancel(later);
    scheduler.RunAfter(milliseconds(60), [&] { marker = true; });
    ASSERT_TRUE(jss::testing::WaitFor([&] { return marker.load(); }));
    EXPECT_EQ(ran.load(), before);
  }
}

TEST(ThreadSchedulerTest, DestructionDropsPendingTasks) {
  std::atomic<bool> ran{false};
  {
    ThreadScheduler scheduler;
    scheduler.RunAfter(std::chrono::hours(1), [&] { ran = true; });
  }
  EXPECT_FALSE(ran.load());
}

TEST(ThreadSchedulerTest, ATaskMayScheduleAnother) {
  std::atomic<bool> second{false};
  ThreadScheduler scheduler;
  scheduler.RunAfter(milliseconds(0), [&] {
    scheduler.RunAfter(milliseconds(0), [&] { second = true; });
  });
  EXPECT_TRUE(jss::testing::WaitFor([&] { return second.load(); }));
}

}  // namespace
}  // namespace jss::core
