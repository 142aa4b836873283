#pragma once

#include <cstdint>

namespace jss::core {

// What one consumer-info read tells us about outstanding work.
struct ConsumerLag {
  uint64_t num_pending = 0;      // stream messages not yet delivered to the consumer
  uint64_t num_ack_pending = 0;  // delivered but not yet acknowledged

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

}  // namespace jss::core
