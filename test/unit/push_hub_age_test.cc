// Push activation of age triggers (ageThreshold on external-push): the hub
// reads through the age source, wakes on a publish like for lag, and with an
// activation age above 0 reads once more when the oldest message crosses it.
#include <gtest/gtest.h>

#include "jss/core/push/push_hub.h"
#include "push_hub_fixture.h"

namespace jss::core {
namespace {

ConsumerLag Aged(uint64_t pending, int64_t age_ms, uint64_t ack_pending = 0) {
  ConsumerLag lag = Lag(pending, ack_pending);
  lag.oldest_age_ms = age_ms;
  return lag;
}

class PushHubAgeTest : public PushHubTest {
 protected:
  // One age subscriber on an idle consumer whose wake-up is live.
  PushHub::SubscriptionId SubscribeIdleAge(Inbox& inbox, milliseconds activation) {
    const auto id =
        hub_.Subscribe(kKey, PushActivation::Age(activation), kInterval, inbox.Listener());
    wakeups_.Ready(true);
    age_source_.Complete(Aged(0, 0));
    return id;
  }
  // A publish wakes the watcher, whose read finds `pending` messages, the
  // oldest `age_ms` old.
  void PublishAndRead(uint64_t pending, int64_t age_ms) {
    ASSERT_TRUE(wakeups_.Fire());
    age_source_.Complete(Aged(pending, age_ms));
  }
  // Time passes to the watcher's timer, which fires.
  void RunTimerAfter(milliseconds elapsed) {
    clock_.Advance(elapsed);
    scheduler_.RunAll();
  }
};

TEST_F(PushHubAgeTest, AnAgeSubscriberReadsThroughTheAgeSourceAndAPublishActivatesIt) {
  Inbox inbox;
  SubscribeIdleAge(inbox, milliseconds(0));
  EXPECT_EQ(source_.reads(), 0) << "a lag read carries no age";
  EXPECT_EQ(age_source_.reads(), 1);
  EXPECT_EQ(inbox.values(), std::vector<bool>{false});
  EXPECT_TRUE(IsResyncDelay(scheduler_.OnlyDelay())) << "idle and listening: no polling";

  ASSERT_TRUE(wakeups_.Fire());
  EXPECT_EQ(age_source_.reads(), 2) << "a publish is read at once";
  age_source_.Complete(Aged(1, 3));
  EXPECT_EQ(inbox.values(), (std::vector<bool>{false, true}));
  EXPECT_EQ(scheduler_.OnlyDelay(), kInterval) << "active: polled to see the work drain";
}

TEST_F(PushHubAgeTest, WithAnActivationAgeTheIdleWatcherReadsOnceWhenTheOldestMessageCrossesIt) {
  Inbox inbox;
  SubscribeIdleAge(inbox, milliseconds(10'000));
  PublishAndRead(1, 200);
  EXPECT_EQ(inbox.values(), std::vector<bool>{false}) << "200 ms is not above 10 s";
  // No publish will come to say the message got old: one timer, at the moment
  // it passes the threshold (strictly above: a millisecond past it).
  EXPECT_EQ(scheduler_.OnlyDelay(), milliseconds(10'000 - 200 + 1));
  EXPECT_EQ(age_source_.reads(), 2);

  RunTimerAfter(milliseconds(9'801));
  EXPECT_EQ(age_source_.reads(), 3);
  age_source_.Complete(Aged(1, 10'001));
  EXPECT_EQ(inbox.values(), (std::vector<bool>{false, true}));
  EXPECT_EQ(source_.reads(), 0);
}

TEST_F(PushHubAgeTest, TheCrossingReadIsNeverSoonerThanAnIntervalAfterTheLastRead) {
  Inbox inbox;
  SubscribeIdleAge(inbox, milliseconds(100));
  PublishAndRead(1, 95);
  EXPECT_EQ(inbox.values(), std::vector<bool>{false});
  EXPECT_EQ(scheduler_.OnlyDelay(), kInterval) << "6 ms away, but the interval bounds the rate";
}

TEST_F(PushHubAgeTest, AMessageAckedBeforeTheCrossingLeavesTheWatcherIdleAndListening) {
  Inbox inbox;
  SubscribeIdleAge(inbox, milliseconds(5'000));
  PublishAndRead(1, 10);
  RunTimerAfter(milliseconds(4'991));
  age_source_.Complete(Aged(0, 0));  // a worker took it meanwhile
  EXPECT_EQ(inbox.values(), std::vector<bool>{false});
  EXPECT_TRUE(IsResyncDelay(scheduler_.OnlyDelay()));
  EXPECT_TRUE(wakeups_.armed) << "the next publish starts the clock again";
}

TEST_F(PushHubAgeTest, AnYoungerOldestMessageMovesTheCrossingLater) {
  Inbox inbox;
  SubscribeIdleAge(inbox, milliseconds(5'000));
  PublishAndRead(2, 10);
  RunTimerAfter(milliseconds(4'991));
  // The oldest was acked; the next one waits since 1 s.
  age_source_.Complete(Aged(1, 1'000));
  EXPECT_EQ(inbox.values(), std::vector<bool>{false});
  EXPECT_EQ(scheduler_.OnlyDelay(), milliseconds(4'001));
}

TEST_F(PushHubAgeTest, EvenAHugeActivationAgeIsReachedByAPublishSoTheWakeupIsKept) {
  // Unlike lag (kMaxWakeupThreshold), any publish starts an age that grows.
  Inbox inbox;
  SubscribeIdleAge(inbox, std::chrono::hours(720));
  EXPECT_EQ(wakeups_.watches, 1);
  EXPECT_TRUE(wakeups_.armed);
}

TEST_F(PushHubAgeTest, LagAndAgeSubscribersOfOneConsumerShareOneAgeRead) {
  Inbox lag_inbox;
  Inbox age_inbox;
  hub_.Subscribe(kKey, 4, kInterval, lag_inbox.Listener());
  hub_.Subscribe(kKey, PushActivation::Age(milliseconds(0)), kInterval, age_inbox.Listener());
  wakeups_.Ready(true);
  EXPECT_EQ(source_.reads() + age_source_.reads(), 1) << "one watcher, one read";
  ASSERT_EQ(age_source_.reads(), 1) << "the read carries what both need";
  age_source_.Complete(Aged(3, 700));
  EXPECT_EQ(lag_inbox.values(), std::vector<bool>{false}) << "lag 3 is not above 4";
  EXPECT_EQ(age_inbox.values(), std::vector<bool>{true});
}

TEST_F(PushHubAgeTest, TheFirstAgeSubscriberOfALagWatcherGetsAnAgeReadNotTheLagValue) {
  Inbox lag_inbox;
  SubscribeIdle(lag_inbox);  // a lag watcher with a value
  Inbox age_inbox;
  hub_.Subscribe(kKey, PushActivation::Age(milliseconds(0)), kInterval, age_inbox.Listener());
  EXPECT_TRUE(age_inbox.values().empty()) << "a lag value says nothing about age";
  ASSERT_EQ(age_source_.reads(), 1) << "read at once";
  age_source_.Complete(Aged(0, 0));
  EXPECT_EQ(age_inbox.values(), std::vector<bool>{false});
  EXPECT_EQ(lag_inbox.values(), std::vector<bool>{false});
}

TEST_F(PushHubAgeTest, ALagReadInFlightWhenTheAgeSubscriberJoinsIsFollowedByAnAgeRead) {
  Inbox lag_inbox;
  SubscribeIdle(lag_inbox);
  ASSERT_TRUE(wakeups_.Fire());
  ASSERT_EQ(source_.pending.size(), 1u) << "a lag read in flight";
  Inbox age_inbox;
  hub_.Subscribe(kKey, PushActivation::Age(milliseconds(0)), kInterval, age_inbox.Listener());
  source_.Complete(Lag(1));
  EXPECT_EQ(lag_inbox.values(), (std::vector<bool>{false, true}));
  EXPECT_TRUE(age_inbox.values().empty());
  ASSERT_EQ(age_source_.reads(), 1);
  age_source_.Complete(Aged(1, 40));
  EXPECT_EQ(age_inbox.values(), std::vector<bool>{true});
}

TEST_F(PushHubAgeTest, AReadByAnyoneElseCountsForAnAgeWatcherOnlyWithAnAge) {
  Inbox inbox;
  SubscribeIdleAge(inbox, milliseconds(0));
  hub_.OnLagRead(kKey, Lag(5));  // a KEDA poll of a lag trigger on the same consumer
  EXPECT_EQ(inbox.values(), std::vector<bool>{false});
  EXPECT_TRUE(IsResyncDelay(scheduler_.OnlyDelay())) << "nor does it stand in for a read";
  hub_.OnLagRead(kKey, Aged(5, 2'000));  // a KEDA poll of an age trigger
  EXPECT_EQ(inbox.values(), (std::vector<bool>{false, true}));
  EXPECT_EQ(age_source_.reads(), 1);
}

TEST_F(PushHubAgeTest, AnAgeReadWithoutAnAgeIsRetriedAndNeverDecides) {
  Inbox inbox;
  hub_.Subscribe(kKey, PushActivation::Age(milliseconds(0)), kInterval, inbox.Listener());
  wakeups_.Ready(true);
  age_source_.Complete(Lag(7));  // a broken source: counters, no age
  EXPECT_TRUE(inbox.values().empty()) << "never a guessed activity";
  EXPECT_TRUE(inbox.ends().empty()) << "the stream stays open";
  EXPECT_EQ(observer_.failed_reads, 1);
  ASSERT_TRUE(scheduler_.OnlyDelay().has_value()) << "retried";
  scheduler_.RunAll();
  age_source_.Complete(Aged(7, 30));
  EXPECT_EQ(inbox.values(), std::vector<bool>{true});
}

TEST_F(PushHubAgeTest, AHubWithoutAnAgeSourceEndsAnAgeSubscriptionWithInvalidArgument) {
  Inbox inbox;
  polling_.Subscribe(kKey, PushActivation::Age(milliseconds(0)), kInterval, inbox.Listener());
  ASSERT_EQ(inbox.ends().size(), 1u);
  EXPECT_EQ(inbox.ends()[0].code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(source_.reads(), 0);
}

TEST_F(PushHubAgeTest, TheLastAgeSubscriberLeavingTurnsTheWatcherBackToLagReads) {
  Inbox lag_inbox;
  Inbox age_inbox;
  hub_.Subscribe(kKey, 0, kInterval, lag_inbox.Listener());
  const auto age_id =
      hub_.Subscribe(kKey, PushActivation::Age(milliseconds(0)), kInterval, age_inbox.Listener());
  wakeups_.Ready(true);
  age_source_.Complete(Aged(0, 0));
  hub_.Unsubscribe(age_id);
  ASSERT_TRUE(wakeups_.Fire());
  EXPECT_EQ(source_.reads(), 1) << "lag subscribers alone read lag";
  EXPECT_EQ(age_source_.reads(), 1);
}

}  // namespace
}  // namespace jss::core
