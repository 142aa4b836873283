#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace jss::core {

// What one consumer-info read tells us about outstanding work.
struct ConsumerLag {
  uint64_t num_pending = 0;      // stream messages not yet delivered to the consumer
  uint64_t num_ack_pending = 0;  // delivered but not yet acknowledged
  // Paused (nats-server 2.11+: consumer info `paused`; absent, hence false,
  // on older servers): nothing is delivered until the pause ends, but the
  // counters above still say what is waiting. Not part of the metric.
  bool paused = false;
  // With `paused`: how long the pause still lasts (`pause_remaining`, ns).
  uint64_t pause_remaining_ns = 0;
  // Age reads only (an age trigger's source): how long the consumer's oldest
  // unacknowledged message has waited, in ms; 0 when nothing is waiting.
  std::optional<int64_t> oldest_age_ms = std::nullopt;

  // The scaling metric: both kinds of work are waiting for a worker. Saturates
  // instead of wrapping so a corrupt counter cannot turn into a tiny lag.
  uint64_t Total() const;

  // Total() clamped into KEDA's int64 metricValue.
  int64_t TotalAsInt64() const;

  bool operator==(const ConsumerLag& other) const {
    return num_pending == other.num_pending && num_ack_pending == other.num_ack_pending;
  }
};

// KEDA activates the workload when the metric is strictly above the
// activation threshold.
bool IsActive(const ConsumerLag& lag, int64_t activation_lag_threshold);

// An age trigger's activity: the oldest unacknowledged message has waited
// strictly longer than `activation` (false without an age).
bool IsAgeActive(const ConsumerLag& lag, std::chrono::milliseconds activation);

// An age in KEDA's units: metricValueFloat (seconds, ms precision) and
// metricValue (whole seconds, rounded up so that any wait counts).
double AgeSeconds(int64_t age_ms);
int64_t AgeWholeSecondsRoundedUp(int64_t age_ms);

}  // namespace jss::core
