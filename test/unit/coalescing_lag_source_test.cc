#include "jss/core/lag/coalescing_lag_source.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "mocks/core_fakes.h"

namespace jss::core {
namespace {

using std::chrono::milliseconds;

class CountingObserver final : public LagObserver {
 public:
  void OnLagRead(const ConsumerKey&, const LagResult&) override { ++reads; }
  void OnCacheHit() override { ++hits; }
  void OnCacheSize(size_t n) override { size = n; }
  int reads = 0;
  int hits = 0;
  size_t size = 0;
};

const ConsumerKey kKey{"default", "ORDERS", "workers"};

class CoalescingTest : public ::testing::Test {
 protected:
  CoalescingLagSource Make(milliseconds ttl) {
    return CoalescingLagSource(upstream_, clock_, ttl, observer_);
  }
  SteadyTime Deadline() { return clock_.Now() + milliseconds(2000); }

  FakeClock clock_;
  ManualLagSource upstream_;
  CountingObserver observer_;
};

TEST_F(CoalescingTest, ConcurrentCallersShareOneUpstreamRead) {
  auto source = Make(milliseconds(1000));
  std::vector<LagResult> results;
  for (int i = 0; i < 100; ++i) {
    source.ReadLag(kKey, Deadline(), [&](const LagResult& r) { results.push_back(r); });
  }
  EXPECT_EQ(upstream_.keys.size(), 1u);
  EXPECT_TRUE(results.empty());
  upstream_.CompleteAll(ConsumerLag{7, 3});
  ASSERT_EQ(results.size(), 100u);
  for (const auto& r : results) EXPECT_EQ(r->Total(), 10u);
}

TEST_F(CoalescingTest, ReusesResultWithinTtlThenReadsAgain) {
  auto source = Make(milliseconds(1000));
  source.ReadLag(kKey, Deadline(), [](const LagResult&) {});
  upstream_.CompleteAll(ConsumerLag{1, 0});
  LagResult seen = UnavailableError("not called");
  source.ReadLag(kKey, Deadline(), [&](const LagResult& r) { seen = r; });
  EXPECT_EQ(upstream_.keys.size(), 1u);
  ASSERT_TRUE(seen.ok());
  EXPECT_EQ(seen->Total(), 1u);
  EXPECT_EQ(observer_.hits, 1);

  clock_.Advance(milliseconds(1000));
  source.ReadLag(kKey, Deadline(), [&](const LagResult& r) { seen = r; });
  EXPECT_EQ(upstream_.keys.size(), 2u);
  upstream_.CompleteAll(ConsumerLag{5, 0});
  EXPECT_EQ(seen->Total(), 5u);
}

TEST_F(CoalescingTest, ErrorsStayErrorsAndAreSharedWithinTheWindow) {
  auto source = Make(milliseconds(1000));
  std::vector<LagResult> results;
  for (int i = 0; i < 10; ++i) {
    source.ReadLag(kKey, Deadline(), [&](const LagResult& r) { results.push_back(r); });
  }
  upstream_.CompleteAll(UnavailableError("NATS down"));
  for (int i = 0; i < 10; ++i) {
    source.ReadLag(kKey, Deadline(), [&](const LagResult& r) { results.push_back(r); });
  }
  EXPECT_EQ(upstream_.keys.size(), 1u);  // a burst during an outage: one request
  ASSERT_EQ(results.size(), 20u);
  for (const auto& r : results) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  }
}

TEST_F(CoalescingTest, ZeroTtlCoalescesButNeverReuses) {
  auto source = Make(milliseconds(0));
  int calls = 0;
  source.ReadLag(kKey, Deadline(), [&](const LagResult&) { ++calls; });
  source.ReadLag(kKey, Deadline(), [&](const LagResult&) { ++calls; });
  EXPECT_EQ(upstream_.keys.size(), 1u);
  upstream_.CompleteAll(ConsumerLag{1, 1});
  EXPECT_EQ(calls, 2);
  source.ReadLag(kKey, Deadline(), [&](const LagResult&) { ++calls; });
  EXPECT_EQ(upstream_.keys.size(), 2u);
}

TEST_F(CoalescingTest, DistinctConsumersAreReadSeparately) {
  auto source = Make(milliseconds(1000));
  source.ReadLag(kKey, Deadline(), [](const LagResult&) {});
  source.ReadLag({"default", "ORDERS", "other"}, Deadline(), [](const LagResult&) {});
  source.ReadLag({"tenant-b", "ORDERS", "workers"}, Deadline(), [](const LagResult&) {});
  EXPECT_EQ(upstream_.keys.size(), 3u);
}

TEST_F(CoalescingTest, IdleEntriesExpire) {
  auto source = Make(milliseconds(1000));
  for (int i = 0; i < 50; ++i) {
    source.ReadLag({"default", "S", "c" + std::to_string(i)}, Deadline(),
                   [](const LagResult&) {});
  }
  upstream_.CompleteAll(ConsumerLag{0, 0});
  EXPECT_EQ(source.EntryCountForTest(), 50u);
  clock_.Advance(milliseconds(1500));
  source.ReadLag(kKey, Deadline(), [](const LagResult&) {});  // triggers a sweep
  EXPECT_EQ(source.EntryCountForTest(), 1u);
  EXPECT_EQ(observer_.size, 0u);  // swept before the new entry was added
}

// The attack from issue 13: one caller sends 200 µs deadlines every 20 ms;
// another caller with a 5 s deadline must never get the first one's timeout.
TEST_F(CoalescingTest, ATinyDeadlineNeverFailsACallerWithTimeLeft) {
  auto source = Make(milliseconds(1000));
  int victim_ok = 0;
  int victim_failed = 0;
  for (int round = 0; round < 74; ++round) {
    clock_.Advance(milliseconds(1001));  // past the reuse window each round
    LagResult attacker = ConsumerLag{0, 0};
    source.ReadLag(kKey, clock_.Now() + std::chrono::microseconds(200),
                   [&](const LagResult& r) { attacker = r; });
    const SteadyTime victim_deadline = clock_.Now() + milliseconds(5000);
    source.ReadLag(kKey, victim_deadline, [&](const LagResult& r) {
      r.ok() ? ++victim_ok : ++victim_failed;
    });
    clock_.Advance(milliseconds(1));
    upstream_.Complete(UnavailableError("NATS did not answer within the request deadline"));
    EXPECT_FALSE(attacker.ok());
    // The victim is not answered with that error: its own read is in flight,
    // under its own deadline.
    ASSERT_EQ(upstream_.pending.size(), 1u);
    EXPECT_EQ(upstream_.deadlines.back(), victim_deadline);
    upstream_.Complete(ConsumerLag{5, 0});
  }
  EXPECT_EQ(victim_ok, 74);
  EXPECT_EQ(victim_failed, 0);
}

TEST_F(CoalescingTest, AnErrorAfterTheReadsDeadlineIsNotReused) {
  auto source = Make(milliseconds(1000));
  source.ReadLag(kKey, clock_.Now() + milliseconds(1), [](const LagResult&) {});
  clock_.Advance(milliseconds(2));
  upstream_.Complete(UnavailableError("NATS did not answer within the request deadline"));
  LagResult seen = UnavailableError("not called");
  source.ReadLag(kKey, Deadline(), [&](const LagResult& r) { seen = r; });
  EXPECT_EQ(upstream_.reads(), 2);  // a fresh read, not the cached timeout
  upstream_.Complete(ConsumerLag{3, 0});
  ASSERT_TRUE(seen.ok());
  EXPECT_EQ(seen->Total(), 3u);
}

TEST_F(CoalescingTest, CallersWhoseDeadlinePassedTooGetTheDeadlineError) {
  auto source = Make(milliseconds(1000));
  int failed = 0;
  source.ReadLag(kKey, clock_.Now() + milliseconds(1), [&](const LagResult& r) {
    if (!r.ok()) ++failed;
  });
  source.ReadLag(kKey, clock_.Now() + milliseconds(2), [&](const LagResult& r) {
    if (!r.ok()) ++failed;
  });
  clock_.Advance(milliseconds(3));
  upstream_.Complete(UnavailableError("NATS did not answer within the request deadline"));
  EXPECT_EQ(failed, 2);
  EXPECT_EQ(upstream_.reads(), 1);  // nobody had time left: no retry
}

TEST_F(CoalescingTest, InlineUpstreamCompletionDoesNotDeadlock) {
  class InlineSource final : public LagSource {
   public:
    void ReadLag(const ConsumerKey&, SteadyTime, LagCallback done) override {
      done(ConsumerLag{2, 2});
    }
  } inline_source;
  CoalescingLagSource source(inline_source, clock_, milliseconds(0), observer_);
  uint64_t total = 0;
  source.ReadLag(kKey, Deadline(), [&](const LagResult& r) { total = r->Total(); });
  EXPECT_EQ(total, 4u);
}

TEST_F(CoalescingTest, ReadSentAfterTakesOnlyARequestSentLateEnough) {
  auto source = Make(milliseconds(1000));
  source.ReadLag(kKey, Deadline(), [](const LagResult&) {});
  upstream_.CompleteAll(ConsumerLag{1, 0});
  const SteadyTime first_sent = clock_.Now();
  clock_.Advance(milliseconds(10));
  LagResult seen = UnavailableError("not called");
  // Sent no earlier than the first read: the cached result will do.
  source.ReadLagSentAfter(kKey, first_sent, Deadline(), [&](const LagResult& r) { seen = r; });
  EXPECT_EQ(upstream_.reads(), 1);
  ASSERT_TRUE(seen.ok());
  // A publish happened after it: only a new request will do, even within the ttl.
  source.ReadLagSentAfter(kKey, clock_.Now(), Deadline(), [&](const LagResult& r) { seen = r; });
  EXPECT_EQ(upstream_.reads(), 2);
  upstream_.CompleteAll(ConsumerLag{4, 0});
  EXPECT_EQ(seen->Total(), 4u);
}

TEST_F(CoalescingTest, ReadSentAfterQueuesBehindAnOlderReadInFlight) {
  auto source = Make(milliseconds(1000));
  std::vector<uint64_t> unary;
  source.ReadLag(kKey, Deadline(), [&](const LagResult& r) { unary.push_back(r->Total()); });
  clock_.Advance(milliseconds(5));
  std::vector<uint64_t> fresh;
  // Two callers that need a request sent from now on share one more read.
  for (int i = 0; i < 2; ++i) {
    source.ReadLagSentAfter(kKey, clock_.Now(), Deadline(),
                            [&](const LagResult& r) { fresh.push_back(r->Total()); });
  }
  EXPECT_EQ(upstream_.reads(), 1) << "one upstream read at a time per consumer";
  upstream_.Complete(ConsumerLag{1, 0});
  EXPECT_EQ(unary, std::vector<uint64_t>{1});
  EXPECT_TRUE(fresh.empty()) << "that reply may predate what they must see";
  EXPECT_EQ(upstream_.reads(), 2);
  upstream_.Complete(ConsumerLag{2, 0});
  EXPECT_EQ(fresh, (std::vector<uint64_t>{2, 2}));
  EXPECT_EQ(observer_.reads, 2);
}

// Issue 21 item 8: a caller with a short deadline that joins a read started
// by one with a long deadline is answered at its own deadline, with the typed
// UNAVAILABLE it gets when it reads alone, not left to gRPC's bare
// DEADLINE_EXCEEDED when the shared read ends much later.
TEST_F(CoalescingTest, AShortDeadlineJoiningALongReadIsAnsweredAtItsOwnDeadline) {
  FakeScheduler scheduler;
  CoalescingLagSource source(upstream_, clock_, milliseconds(1000), observer_, &scheduler);
  std::vector<LagResult> long_caller;
  source.ReadLag(kKey, clock_.Now() + milliseconds(5000),
                 [&](const LagResult& r) { long_caller.push_back(r); });
  EXPECT_TRUE(scheduler.tasks.empty()) << "the read's own deadline is the upstream's business";
  std::vector<LagResult> short_caller;
  source.ReadLag(kKey, clock_.Now() + milliseconds(300),
                 [&](const LagResult& r) { short_caller.push_back(r); });
  EXPECT_EQ(upstream_.reads(), 1) << "it still shares the read";
  ASSERT_EQ(scheduler.tasks.size(), 1u);
  EXPECT_EQ(scheduler.tasks.begin()->second.first, milliseconds(300));

  clock_.Advance(milliseconds(299));
  scheduler.RunDue(milliseconds(299));
  EXPECT_TRUE(short_caller.empty()) << "never answered before its deadline";
  clock_.Advance(milliseconds(1));
  scheduler.RunDue(milliseconds(300));
  ASSERT_EQ(short_caller.size(), 1u);
  ASSERT_FALSE(short_caller[0].ok());
  EXPECT_EQ(short_caller[0].status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(short_caller[0].status().message(),
              ::testing::HasSubstr("NATS did not answer within the request deadline (connection "
                                   "\"default\""));
  EXPECT_TRUE(long_caller.empty()) << "the shared read goes on for the others";

  upstream_.Complete(ConsumerLag{4, 0});
  ASSERT_EQ(long_caller.size(), 1u);
  EXPECT_EQ(long_caller[0]->Total(), 4u);
  EXPECT_EQ(short_caller.size(), 1u) << "answered once";
}

TEST_F(CoalescingTest, AWaiterAnsweredByTheReadLosesItsTimer) {
  FakeScheduler scheduler;
  CoalescingLagSource source(upstream_, clock_, milliseconds(1000), observer_, &scheduler);
  source.ReadLag(kKey, clock_.Now() + milliseconds(5000), [](const LagResult&) {});
  int answers = 0;
  source.ReadLag(kKey, clock_.Now() + milliseconds(300), [&](const LagResult& r) {
    EXPECT_TRUE(r.ok());
    ++answers;
  });
  ASSERT_EQ(scheduler.tasks.size(), 1u);
  upstream_.Complete(ConsumerLag{1, 0});
  EXPECT_EQ(answers, 1);
  EXPECT_TRUE(scheduler.tasks.empty()) << "its deadline task was cancelled";
}

TEST_F(CoalescingTest, WaitersOfARetriedReadKeepTheirOwnDeadlines) {
  FakeScheduler scheduler;
  CoalescingLagSource source(upstream_, clock_, milliseconds(1000), observer_, &scheduler);
  // A tiny-deadline caller starts the read; two with time left join it.
  source.ReadLag(kKey, clock_.Now() + milliseconds(1), [](const LagResult&) {});
  std::vector<LagResult> mid;
  std::vector<LagResult> late;
  source.ReadLag(kKey, clock_.Now() + milliseconds(1000),
                 [&](const LagResult& r) { mid.push_back(r); });
  source.ReadLag(kKey, clock_.Now() + milliseconds(4000),
                 [&](const LagResult& r) { late.push_back(r); });
  EXPECT_TRUE(scheduler.tasks.empty()) << "both would outlive that read's deadline";
  clock_.Advance(milliseconds(2));
  upstream_.Complete(UnavailableError("NATS did not answer within the request deadline"));
  // The retry runs under the latest deadline; the 1 s caller has a timer of its own.
  ASSERT_EQ(upstream_.reads(), 2);
  EXPECT_EQ(upstream_.deadlines.back(), clock_.Now() + milliseconds(3998));
  clock_.Advance(milliseconds(998));
  scheduler.RunDue(milliseconds(1000));
  ASSERT_EQ(mid.size(), 1u);
  EXPECT_EQ(mid[0].status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(late.empty());
  upstream_.Complete(ConsumerLag{2, 0});
  ASSERT_EQ(late.size(), 1u);
  EXPECT_TRUE(late[0].ok());
}

}  // namespace
}  // namespace jss::core
