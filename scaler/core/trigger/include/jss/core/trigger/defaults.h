#pragma once

#include <chrono>
#include <cstddef>

#include "jss/core/trigger/duration.h"

// Defaults and bounds that more than one layer needs (flags, trigger metadata,
// adapters). Each is written here once; --help and error messages print these.
namespace jss::core {

// Upper bound for one NATS read (--request-timeout); KEDA's deadline shortens it.
inline constexpr std::chrono::milliseconds kDefaultRequestTimeout{2000};

// StreamIsActive re-read interval (--push-interval, trigger `pushInterval`).
// The floor keeps a watcher from hammering the consumer leader.
inline constexpr std::chrono::milliseconds kDefaultPushInterval{250};
inline constexpr DurationRange kPushIntervalRange{std::chrono::milliseconds(100),
                                                  std::chrono::hours(1)};

// The age keys (ageThreshold, activationAgeThreshold): a millisecond to 30 days.
inline constexpr DurationRange kAgeRange{std::chrono::milliseconds(1), std::chrono::hours(24 * 30)};

// How often a quiet NATS connection is asked for a PONG (--nats-ping-interval):
// a peer that keeps the socket open but stops answering is reported not ready
// within about this plus one second, and cnats reconnects after two misses.
inline constexpr std::chrono::milliseconds kDefaultNatsPingInterval{5000};
inline constexpr DurationRange kNatsPingIntervalRange{std::chrono::milliseconds(100),
                                                      std::chrono::minutes(5)};

// JetStream API requests in flight per NATS connection (--max-inflight-requests).
inline constexpr size_t kDefaultMaxInFlight = 4096;

// Open StreamIsActive + StreamMetricSpec streams (--max-streams, and
// --max-streams-per-connection). KEDA multiplexes every ScaledObject of a
// cluster over one connection, so the per-connection bound must hold the
// 10,000 external-push ScaledObjects the scaler is sized for (~23 KiB each, measured in bench/push_bench).
inline constexpr size_t kDefaultMaxStreams = 10000;

// Subjects one push wake-up subscribes to (--push-max-wakeup-subjects). Every
// re-arm re-subscribes each of them, so a consumer reading a stream of
// thousands of literal subjects is polled instead (10 watchers of a
// 4,000-subject stream held 40,000 subscriptions and 75% of a core).
inline constexpr size_t kDefaultPushMaxWakeupSubjects = 100;

}  // namespace jss::core
