#include "jss/core/push/push_hub.h"

#include <gtest/gtest.h>

#include "push_hub_fixture.h"

namespace jss::core {
namespace {

TEST_F(PushHubTest, TheFirstReadWaitsForTheWakeupThenTellsTheActivity) {
  Inbox inbox;
  hub_.Subscribe(kKey, 0, kInterval, inbox.Listener());
  EXPECT_EQ(wakeups_.watches, 1) << "the wake-up is set up at once";
  EXPECT_EQ(source_.reads(), 0) << "no publish may fall between the read and the subscription";
  wakeups_.Ready(true);
  EXPECT_EQ(source_.reads(), 1);
  EXPECT_TRUE(inbox.values().empty()) << "nothing is sent before NATS answered";
  source_.Complete(Lag(0));
  EXPECT_EQ(inbox.values(), std::vector<bool>{false});
}

TEST_F(PushHubTest, AnIdleConsumerWithALiveWakeupIsOnlyReReadAtTheResync) {
  Inbox inbox;
  SubscribeIdle(inbox);
  EXPECT_TRUE(IsResyncDelay(scheduler_.OnlyDelay())) << scheduler_.OnlyDelay()->count();
  EXPECT_EQ(observer_.fallback, 0u);
  for (int i = 0; i < 3; ++i) {
    scheduler_.RunAll();
    source_.Complete(Lag(0));
    EXPECT_TRUE(IsResyncDelay(scheduler_.OnlyDelay()));
  }
  EXPECT_EQ(source_.reads(), 4);
  EXPECT_EQ(inbox.values(), std::vector<bool>{false});
}

TEST_F(PushHubTest, AnActiveConsumerIsPolledEveryInterval) {
  Inbox inbox;
  SubscribeIdle(inbox);
  scheduler_.RunAll();
  source_.Complete(Lag(4));
  EXPECT_EQ(inbox.values(), (std::vector<bool>{false, true}));
  EXPECT_EQ(scheduler_.OnlyDelay(), kInterval) << "to see the work drain";
  EXPECT_FALSE(wakeups_.armed) << "active: nothing to wake";
  EXPECT_EQ(observer_.fallback, 0u) << "polling because active is not the fallback";
}

TEST_F(PushHubTest, WithoutAWakeupPollingEveryIntervalIsTheFallbackAndSaysSo) {
  Inbox inbox;
  polling_.Subscribe(kKey, 0, kInterval, inbox.Listener());
  EXPECT_EQ(source_.reads(), 1) << "nothing to wait for";
  source_.Complete(Lag(0));
  EXPECT_EQ(scheduler_.OnlyDelay(), kInterval);
  EXPECT_EQ(observer_.fallback, 1u);
  scheduler_.RunAll();
  source_.Complete(Lag(1));
  EXPECT_EQ(inbox.values(), (std::vector<bool>{false, true}));
  EXPECT_EQ(observer_.fallback, 0u);
}

TEST_F(PushHubTest, AnUnavailableWakeupFallsBackToPolling) {
  Inbox inbox;
  hub_.Subscribe(kKey, 0, kInterval, inbox.Listener());
  wakeups_.Ready(false);  // e.g. no subscribe permission
  EXPECT_EQ(wakeups_.handles, 0);
  EXPECT_EQ(source_.reads(), 1);
  source_.Complete(Lag(0));
  EXPECT_EQ(scheduler_.OnlyDelay(), kInterval);
  EXPECT_EQ(observer_.fallback, 1u);
  EXPECT_EQ(wakeups_.watches, 1) << "the set-up is retried no sooner than the resync";
}

TEST_F(PushHubTest, AWakeupRefusedAfterItsSetUpFallsBackToPollingAndReadsAtOnce) {
  Inbox inbox;
  SubscribeIdle(inbox);
  ASSERT_TRUE(IsResyncDelay(scheduler_.OnlyDelay()));
  wakeups_.Lose();  // NATS: permissions violation for the subscription
  EXPECT_EQ(wakeups_.handles, 0) << "the lost watch is dropped";
  EXPECT_EQ(source_.reads(), 2) << "nothing was heard while it seemed live: read now";
  source_.Complete(Lag(0));
  EXPECT_EQ(scheduler_.OnlyDelay(), kInterval) << "polled from now on";
  EXPECT_EQ(observer_.fallback, 1u);
  EXPECT_EQ(wakeups_.watches, 1) << "set up again no sooner than the resync";
  clock_.Advance(kResync);
  scheduler_.RunAll();
  source_.Complete(Lag(0));
  EXPECT_EQ(wakeups_.watches, 2) << "and then tried again";
  EXPECT_EQ(inbox.values(), std::vector<bool>{false});
  EXPECT_TRUE(inbox.ends().empty());
}

TEST_F(PushHubTest, AThresholdNoPublishCanReachGetsNoWakeupAndOnlyTheResync) {
  Inbox inbox;
  hub_.Subscribe(kKey, PushHub::kMaxWakeupThreshold, kInterval, inbox.Listener());
  EXPECT_EQ(wakeups_.watches, 0) << "no subscription for an unreachable threshold";
  EXPECT_EQ(source_.reads(), 1) << "nothing to wait for";
  source_.Complete(Lag(5));
  EXPECT_EQ(inbox.values(), std::vector<bool>{false});
  EXPECT_TRUE(IsResyncDelay(scheduler_.OnlyDelay())) << "not polled every interval";
  EXPECT_EQ(observer_.fallback, 0u) << "not the fallback either";
  // A reachable threshold on the same consumer brings the wake-up back.
  Inbox low;
  hub_.Subscribe(kKey, PushHub::kMaxWakeupThreshold - 1, kInterval, low.Listener());
  EXPECT_EQ(low.values(), std::vector<bool>{false});
  EXPECT_EQ(wakeups_.watches, 1);
}

TEST_F(PushHubTest, AReconnectReReadsEveryWatcherOfThatConnectionAtOnce) {
  Inbox idle;
  SubscribeIdle(idle);
  const ConsumerKey failing_key{"default", "ORDERS", "failing"};
  const ConsumerKey other_key{"other", "ORDERS", "workers"};
  Inbox failing;
  Inbox other;
  hub_.Subscribe(failing_key, 0, kInterval, failing.Listener());
  wakeups_.Ready(true);
  source_.Complete(UnavailableError("nats down"));  // retried after a back-off
  hub_.Subscribe(other_key, 0, kInterval, other.Listener());
  wakeups_.Ready(true);
  source_.Complete(Lag(0));
  const int before = source_.reads();
  wakeups_.Reconnected("default");
  ASSERT_EQ(source_.reads(), before + 2) << "publishes during the outage woke nobody";
  std::vector<ConsumerKey> reread(source_.keys.end() - 2, source_.keys.end());
  EXPECT_EQ(std::count(reread.begin(), reread.end(), kKey), 1);
  EXPECT_EQ(std::count(reread.begin(), reread.end(), failing_key), 1)
      << "a failing watcher does not wait for its back-off";
  source_.CompleteAll(Lag(2));
  EXPECT_EQ(idle.values(), (std::vector<bool>{false, true}));
  EXPECT_EQ(failing.values(), std::vector<bool>{true});
  EXPECT_EQ(other.values(), std::vector<bool>{false}) << "another connection is not re-read";
}

TEST_F(PushHubTest, OnlyChangesAreSent) {
  Inbox inbox;
  SubscribeIdle(inbox);
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

TEST_F(PushHubTest, HundredSubscribersShareOneWatcherAndOneRead) {
  std::vector<Inbox> inboxes(100);
  for (auto& inbox : inboxes) hub_.Subscribe(kKey, 0, kInterval, inbox.Listener());
  wakeups_.Ready(true);
  EXPECT_EQ(source_.reads(), 1);
  EXPECT_EQ(wakeups_.watches, 1);
  EXPECT_EQ(hub_.WatcherCount(), 1u);
  EXPECT_EQ(observer_.watchers, 1u);
  EXPECT_EQ(observer_.streams, 100u);
  source_.Complete(Lag(4));
  for (const auto& inbox : inboxes) EXPECT_EQ(inbox.values(), std::vector<bool>{true});
  scheduler_.RunAll();
  EXPECT_EQ(source_.reads(), 2) << "one read per interval, not per subscriber";
}

TEST_F(PushHubTest, LateSubscriberIsAnsweredFromTheWatchersLastRead) {
  Inbox first;
  Inbox late;
  hub_.Subscribe(kKey, 0, kInterval, first.Listener());
  wakeups_.Ready(true);
  source_.Complete(Lag(2));
  hub_.Subscribe(kKey, 0, kInterval, late.Listener());
  EXPECT_EQ(late.values(), std::vector<bool>{true});
  EXPECT_EQ(source_.reads(), 1);
}

TEST_F(PushHubTest, EachSubscriberUsesItsOwnActivationThreshold) {
  Inbox eager;
  Inbox patient;
  hub_.Subscribe(kKey, 0, kInterval, eager.Listener());
  hub_.Subscribe(kKey, 10, kInterval, patient.Listener());
  wakeups_.Ready(true);
  source_.Complete(Lag(5));
  EXPECT_EQ(eager.values(), std::vector<bool>{true});
  EXPECT_EQ(patient.values(), std::vector<bool>{false});
  EXPECT_TRUE(wakeups_.armed) << "the patient one still waits for a publish";
  EXPECT_EQ(scheduler_.OnlyDelay(), kInterval) << "the eager one watches the drain";
}

TEST_F(PushHubTest, ATransientErrorKeepsEverySubscriptionOpenAndRetriesWithBackoff) {
  Inbox a;
  Inbox b;
  hub_.Subscribe(kKey, 0, kInterval, a.Listener());
  hub_.Subscribe(kKey, 0, kInterval, b.Listener());
  wakeups_.Ready(true);
  const Status transient[] = {UnavailableError("nats down"), ResourceExhaustedError("busy"),
                              Status(StatusCode::kDeadlineExceeded, "slow"),
                              NotFoundError("consumer not created yet")};
  milliseconds previous{0};
  for (const Status& error : transient) {
    source_.Complete(error);
    ASSERT_TRUE(scheduler_.OnlyDelay().has_value()) << "a retry is scheduled";
    const milliseconds delay = *scheduler_.OnlyDelay();
    EXPECT_GE(delay, PushHub::kRetryFirst * 3 / 4);
    EXPECT_LE(delay, PushHub::kRetryCap);
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

TEST_F(PushHubTest, APublishDuringTheBackoffRetriesAtOnce) {
  Inbox inbox;
  SubscribeIdle(inbox);
  scheduler_.RunAll();
  source_.Complete(UnavailableError("nats down"));
  ASSERT_TRUE(wakeups_.Fire()) << "NATS is back: a message arrived";
  EXPECT_EQ(source_.reads(), 3);
  source_.Complete(Lag(1));
  EXPECT_EQ(inbox.values(), (std::vector<bool>{false, true}));
}

TEST_F(PushHubTest, TheRetryBackoffIsCapped) {
  Inbox inbox;
  polling_.Subscribe(kKey, 0, kInterval, inbox.Listener());
  for (int i = 0; i < 20; ++i) {
    source_.Complete(UnavailableError("nats down"));
    ASSERT_TRUE(scheduler_.OnlyDelay().has_value());
    EXPECT_LE(*scheduler_.OnlyDelay(), PushHub::kRetryCap);
    scheduler_.RunAll();
  }
  EXPECT_GE(*scheduler_.OnlyDelay(), PushHub::kRetryCap * 3 / 4);
}

TEST_F(PushHubTest, OnlyInvalidArgumentAndPermissionDeniedEndTheSubscriptions) {
  for (const Status& error : {InvalidArgumentError("bad"), PermissionDeniedError("no")}) {
    Inbox a;
    Inbox b;
    hub_.Subscribe(kKey, 0, kInterval, a.Listener());
    hub_.Subscribe(kKey, 0, kInterval, b.Listener());
    wakeups_.Ready(true);
    source_.Complete(error);
    for (const Inbox* inbox : {&a, &b}) {
      EXPECT_TRUE(inbox->values().empty());
      ASSERT_EQ(inbox->ends().size(), 1u);
      EXPECT_EQ(inbox->ends()[0].code(), error.code());
    }
    EXPECT_EQ(hub_.WatcherCount(), 0u);
    EXPECT_EQ(wakeups_.handles, 0);
    EXPECT_TRUE(scheduler_.tasks.empty());
  }
}

TEST_F(PushHubTest, AnErrorAfterValuesSendsNothingUntilAReadSucceeds) {
  Inbox inbox;
  hub_.Subscribe(kKey, 0, kInterval, inbox.Listener());
  wakeups_.Ready(true);
  source_.Complete(Lag(9));
  scheduler_.RunAll();
  source_.Complete(NotFoundError("consumer deleted"));
  EXPECT_EQ(inbox.values(), std::vector<bool>{true});
  EXPECT_TRUE(inbox.ends().empty());
  Inbox late;
  hub_.Subscribe(kKey, 0, kInterval, late.Listener());
  EXPECT_TRUE(late.values().empty()) << "a failing watcher's last value is not handed out";
  scheduler_.RunAll();
  source_.Complete(Lag(0));
  EXPECT_EQ(inbox.values(), (std::vector<bool>{true, false}));
  EXPECT_EQ(late.values(), std::vector<bool>{false});
}

TEST_F(PushHubTest, TheFastestSubscriberSetsTheInterval) {
  Inbox slow;
  Inbox fast;
  polling_.Subscribe(kKey, 0, milliseconds(5000), slow.Listener());
  source_.Complete(Lag(0));
  EXPECT_EQ(scheduler_.OnlyDelay(), milliseconds(5000));
  polling_.Subscribe(kKey, 0, milliseconds(100), fast.Listener());
  EXPECT_EQ(scheduler_.OnlyDelay(), milliseconds(100));
}

TEST_F(PushHubTest, APublishReadsAtOnceAfterReArmingAndActivityParksTheWakeup) {
  Inbox inbox;
  SubscribeIdle(inbox);
  ASSERT_TRUE(wakeups_.Fire());
  EXPECT_EQ(source_.reads(), 2) << "a publish reads at once";
  EXPECT_EQ(wakeups_.rearms, 1) << "listening again before the read is sent";
  EXPECT_TRUE(scheduler_.tasks.empty()) << "the resync timer gives way to the wake-up read";
  EXPECT_EQ(observer_.wakeups, 1);
  source_.Complete(Lag(1));
  EXPECT_EQ(inbox.values(), (std::vector<bool>{false, true}));
  EXPECT_FALSE(wakeups_.armed) << "active: polling sees the drain, no need to listen";
  EXPECT_EQ(wakeups_.handles, 1) << "parked: the subjects are kept for later";
  scheduler_.RunAll();
  source_.Complete(Lag(0));
  EXPECT_EQ(inbox.values(), (std::vector<bool>{false, true, false}));
  EXPECT_TRUE(wakeups_.armed) << "idle again: listening";
  EXPECT_EQ(wakeups_.watches, 1) << "re-armed, not set up again";
  EXPECT_EQ(source_.reads(), 4) << "plus one read for what was published while parked";
}

TEST_F(PushHubTest, APublishDuringAReadTriggersAnotherRead) {
  Inbox inbox;
  SubscribeIdle(inbox);
  ASSERT_TRUE(wakeups_.Fire());  // read 2 in flight, re-armed
  ASSERT_TRUE(wakeups_.Fire());  // its reply may predate this publish
  EXPECT_EQ(source_.reads(), 2);
  clock_.Advance(PushHub::kMinWakeupGap);
  source_.Complete(Lag(0));
  EXPECT_EQ(source_.reads(), 3);
  source_.Complete(Lag(1));
  EXPECT_EQ(inbox.values(), (std::vector<bool>{false, true}));
}

// nats-server 2.10+ tells our wake-up subscription of a publish before its
// stream has stored the message, so the wake-up's read can see the old lag.
TEST_F(PushHubTest, AWakeupReadThatShowsNothingNewIsFollowedUpAndTheFollowUpTellsTrue) {
  Inbox inbox;
  SubscribeIdle(inbox);
  ASSERT_TRUE(wakeups_.Fire());
  ASSERT_EQ(source_.reads(), 2);
  source_.Complete(Lag(0));  // answered before the stream stored the publish
  EXPECT_EQ(inbox.values(), std::vector<bool>{false});
  EXPECT_EQ(scheduler_.OnlyDelay(), PushHub::kWakeFollowUpDelay[0])
      << "not the 30 s resync: the wake-up is spent";
  EXPECT_TRUE(observer_.followup_attempts.empty()) << "counted when sent";
  clock_.Advance(PushHub::kWakeFollowUpDelay[0]);
  scheduler_.RunAll();
  EXPECT_EQ(source_.reads(), 3);
  EXPECT_EQ(observer_.followup_attempts, std::vector<int>{1});
  EXPECT_EQ(observer_.wakeups, 1) << "a follow-up is not another wake-up";
  EXPECT_EQ(wakeups_.rearms, 1) << "still listening from the wake-up read";
  source_.Complete(Lag(1));
  EXPECT_EQ(inbox.values(), (std::vector<bool>{false, true}));
  EXPECT_EQ(scheduler_.OnlyDelay(), kInterval) << "active: polled, no more follow-ups";
}

TEST_F(PushHubTest, WakeupFollowUpsAreBoundedAndANewPublishStartsAgain) {
  Inbox inbox;
  SubscribeIdle(inbox);
  ASSERT_TRUE(wakeups_.Fire());
  source_.Complete(Lag(0));
  for (int i = 0; i < PushHub::kWakeFollowUps; ++i) {
    ASSERT_EQ(scheduler_.OnlyDelay(), PushHub::kWakeFollowUpDelay[i]);
    clock_.Advance(PushHub::kWakeFollowUpDelay[i]);
    scheduler_.RunAll();
    source_.Complete(Lag(0));  // nothing stored: e.g. the stream rejected it
  }
  EXPECT_EQ(source_.reads(), 2 + PushHub::kWakeFollowUps);
  EXPECT_TRUE(IsResyncDelay(scheduler_.OnlyDelay())) << "then only the resync";
  EXPECT_EQ(observer_.followup_attempts, (std::vector<int>{1, 2}));
  EXPECT_EQ(inbox.values(), std::vector<bool>{false});
  // The next publish has its own follow-ups.
  clock_.Advance(milliseconds(5000));
  ASSERT_TRUE(wakeups_.Fire());
  source_.Complete(Lag(0));
  EXPECT_EQ(scheduler_.OnlyDelay(), PushHub::kWakeFollowUpDelay[0]);
}

TEST_F(PushHubTest, AWakeupReadThatSeesThePublishIsNotFollowedUp) {
  Inbox inbox;
  SubscribeIdle(inbox, /*threshold=*/10);
  ASSERT_TRUE(wakeups_.Fire());
  source_.Complete(Lag(1));  // seen, below the threshold
  EXPECT_EQ(inbox.values(), std::vector<bool>{false});
  EXPECT_TRUE(IsResyncDelay(scheduler_.OnlyDelay()));
  // Neither is a resync read that shows nothing new.
  clock_.Advance(*scheduler_.OnlyDelay());
  scheduler_.RunAll();
  source_.Complete(Lag(1));
  EXPECT_TRUE(IsResyncDelay(scheduler_.OnlyDelay()));
  EXPECT_TRUE(observer_.followup_attempts.empty());
  EXPECT_EQ(source_.reads(), 3);
}

TEST_F(PushHubTest, AReadByAnyoneElseThatSeesThePublishEndsTheFollowUps) {
  Inbox inbox;
  SubscribeIdle(inbox, /*threshold=*/10);
  ASSERT_TRUE(wakeups_.Fire());
  source_.Complete(Lag(0));
  ASSERT_EQ(scheduler_.OnlyDelay(), PushHub::kWakeFollowUpDelay[0]);
  hub_.OnLagRead(kKey, Lag(0));  // KEDA's poll, maybe as early: still wanted
  EXPECT_EQ(scheduler_.OnlyDelay(), PushHub::kWakeFollowUpDelay[0]);
  hub_.OnLagRead(kKey, Lag(1));  // it saw the publish (below the threshold)
  EXPECT_TRUE(IsResyncDelay(scheduler_.OnlyDelay()));
  EXPECT_EQ(source_.reads(), 2);
  EXPECT_TRUE(observer_.followup_attempts.empty());
}

TEST_F(PushHubTest, OnABusySubjectWakeupsAndReadsAreSpacedUpToTheMaximumGap) {
  Inbox inbox;
  SubscribeIdle(inbox, /*threshold=*/1000000);  // stays inactive
  std::vector<milliseconds> gaps;
  int messages = 0;
  for (int i = 0; i < 12; ++i) {
    // A publish every millisecond: only the first after each re-arm counts.
    for (int k = 0; k < 50; ++k) messages += wakeups_.Fire() ? 1 : 0;
    if (!source_.pending.empty()) source_.Complete(Lag(5));
    if (source_.pending.empty()) {
      ASSERT_TRUE(scheduler_.OnlyDelay().has_value());
      gaps.push_back(*scheduler_.OnlyDelay());
      clock_.Advance(*scheduler_.OnlyDelay());
      scheduler_.RunAll();
    }
  }
  EXPECT_LE(messages, wakeups_.rearms + 1) << "one message per arming, 600 published";
  EXPECT_LE(messages, 13);
  ASSERT_FALSE(gaps.empty());
  EXPECT_TRUE(std::is_sorted(gaps.begin(), gaps.end())) << "the gap grows";
  EXPECT_EQ(gaps.back(), PushHub::kMaxWakeupGap);
  // After a quiet spell the first publish is read at once again.
  source_.CompleteAll(Lag(5));
  clock_.Advance(milliseconds(5000));
  const int reads = source_.reads();
  ASSERT_TRUE(wakeups_.Fire());
  EXPECT_EQ(source_.reads(), reads + 1);
  EXPECT_TRUE(inbox.values() == std::vector<bool>{false});
}

TEST_F(PushHubTest, AReadByAnyoneElseUpdatesTheWatcherWithoutAReadOfItsOwn) {
  Inbox inbox;
  SubscribeIdle(inbox);
  hub_.OnLagRead(kKey, Lag(5));  // KEDA's GetMetrics through the shared cache
  EXPECT_EQ(inbox.values(), (std::vector<bool>{false, true}));
  EXPECT_EQ(source_.reads(), 1);
  EXPECT_EQ(scheduler_.OnlyDelay(), kInterval) << "the next poll counts from that read";
  hub_.OnLagRead(kKey, UnavailableError("a caller's read failed"));
  hub_.OnLagRead(ConsumerKey{"default", "OTHER", "x"}, Lag(9));
  EXPECT_EQ(inbox.values(), (std::vector<bool>{false, true}));
  EXPECT_EQ(observer_.failing, 0) << "only the watcher's own reads decide about errors";
}

TEST_F(PushHubTest, LastUnsubscribeDropsTheWatcherAndIgnoresItsRead) {
  Inbox inbox;
  const auto id = hub_.Subscribe(kKey, 0, kInterval, inbox.Listener());
  wakeups_.Ready(true);
  hub_.Unsubscribe(id);
  EXPECT_EQ(hub_.WatcherCount(), 0u);
  EXPECT_EQ(observer_.streams, 0u);
  EXPECT_EQ(wakeups_.handles, 0);
  source_.Complete(Lag(5));
  EXPECT_TRUE(inbox.values().empty());
  EXPECT_TRUE(scheduler_.tasks.empty());
}

TEST_F(PushHubTest, UnsubscribingOneKeepsTheOthersWatched) {
  Inbox stays;
  Inbox leaves;
  hub_.Subscribe(kKey, 0, kInterval, stays.Listener());
  const auto id = hub_.Subscribe(kKey, 0, kInterval, leaves.Listener());
  wakeups_.Ready(true);
  source_.Complete(Lag(0));
  hub_.Unsubscribe(id);
  scheduler_.RunAll();
  source_.Complete(Lag(2));
  EXPECT_EQ(stays.values(), (std::vector<bool>{false, true}));
  EXPECT_EQ(leaves.values(), std::vector<bool>{false});
}

TEST_F(PushHubTest, AWatcherRestartsCleanlyAfterATerminalError) {
  Inbox first;
  hub_.Subscribe(kKey, 0, kInterval, first.Listener());
  wakeups_.Ready(true);
  source_.Complete(PermissionDeniedError("denied"));
  Inbox again;  // KEDA reconnects
  hub_.Subscribe(kKey, 0, kInterval, again.Listener());
  EXPECT_EQ(wakeups_.watches, 2);
  wakeups_.Ready(true);
  EXPECT_EQ(source_.reads(), 2);
  source_.Complete(Lag(0));
  EXPECT_EQ(again.values(), std::vector<bool>{false});
  EXPECT_EQ(first.values(), std::vector<bool>{});
}

TEST_F(PushHubTest, ShutdownEndsEverySubscriptionWithOkAndRefusesNewOnes) {
  Inbox inbox;
  SubscribeIdle(inbox);
  hub_.Shutdown();
  ASSERT_EQ(inbox.ends().size(), 1u);
  EXPECT_TRUE(inbox.ends()[0].ok());
  EXPECT_EQ(wakeups_.handles, 0);
  EXPECT_TRUE(scheduler_.tasks.empty());
  Inbox late;
  hub_.Subscribe(kKey, 0, kInterval, late.Listener());
  ASSERT_EQ(late.ends().size(), 1u);
  EXPECT_TRUE(late.ends()[0].ok());
  EXPECT_EQ(source_.reads(), 1);
}

TEST_F(PushHubTest, ReadsGoThroughThePacer) {
  // One read per second, no burst: three new watchers get their first read
  // one after another.
  RatePacer pacer(scheduler_, clock_, 1.0, 1.0);
  PushHub paced(source_, scheduler_, clock_, nullptr, &pacer,
                {milliseconds(2000), kResync}, &observer_);
  std::vector<Inbox> inboxes(3);
  for (int i = 0; i < 3; ++i) {
    paced.Subscribe(ConsumerKey{"default", "S", "c" + std::to_string(i)}, 0, kInterval,
                    inboxes[static_cast<size_t>(i)].Listener());
  }
  EXPECT_EQ(source_.reads(), 1);
  EXPECT_EQ(pacer.Queued(), 2u);
  clock_.Advance(milliseconds(1000));
  scheduler_.RunAll();
  EXPECT_EQ(source_.reads(), 2);
  clock_.Advance(milliseconds(1000));
  scheduler_.RunAll();
  EXPECT_EQ(source_.reads(), 3);
  source_.CompleteAll(Lag(0));
  for (const auto& inbox : inboxes) EXPECT_EQ(inbox.values(), std::vector<bool>{false});
}

TEST(RatePacerTest, UrgentWorkGoesFirstAndTheRateHolds) {
  FakeClock clock;
  ManualScheduler scheduler;
  RatePacer pacer(scheduler, clock, 10.0, 2.0);
  std::vector<std::string> ran;
  for (int i = 0; i < 4; ++i) {
    pacer.Submit(false, [&ran, i] { ran.push_back("r" + std::to_string(i)); });
  }
  pacer.Submit(true, [&ran] { ran.push_back("urgent"); });
  EXPECT_EQ(ran, (std::vector<std::string>{"r0", "r1"})) << "the burst runs inline";
  clock.Advance(milliseconds(100));  // one token
  scheduler.RunAll();
  EXPECT_EQ(ran, (std::vector<std::string>{"r0", "r1", "urgent"}));
  clock.Advance(milliseconds(1000));  // refills to the burst, not beyond
  scheduler.RunAll();
  EXPECT_EQ(ran.size(), 5u);
  EXPECT_EQ(pacer.Queued(), 0u);
}

TEST(RatePacerTest, ZeroRateMeansNoLimit) {
  FakeClock clock;
  ManualScheduler scheduler;
  RatePacer pacer(scheduler, clock, 0, 1);
  int ran = 0;
  for (int i = 0; i < 1000; ++i) pacer.Submit(false, [&ran] { ++ran; });
  EXPECT_EQ(ran, 1000);
  EXPECT_TRUE(scheduler.tasks.empty());
}

}  // namespace
}  // namespace jss::core
