#include "jss/core/lag/lag.h"

#include <limits>

namespace jss::core {

uint64_t ConsumerLag::Total() const {
  const uint64_t max = std::numeric_limits<uint64_t>::max();
  if (num_pending > max - num_ack_pending) return max;
  return num_pending + num_ack_pending;
}

int64_t ConsumerLag::TotalAsInt64() const {
  const uint64_t total = Total();
  const auto max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  return static_cast<int64_t>(total > max ? max : total);
}

bool IsActive(const ConsumerLag& lag, int64_t activation_lag_threshold) {
  if (activation_lag_threshold < 0) return lag.Total() > 0;
  return lag.Total() > static_cast<uint64_t>(activation_lag_threshold);
}

bool IsAgeActive(const ConsumerLag& lag, std::chrono::milliseconds activation) {
  return lag.oldest_age_ms.has_value() && *lag.oldest_age_ms > activation.count();
}

double AgeSeconds(int64_t age_ms) { return static_cast<double>(age_ms < 0 ? 0 : age_ms) / 1000.0; }

int64_t AgeWholeSecondsRoundedUp(int64_t age_ms) {
  if (age_ms <= 0) return 0;
  return age_ms / 1000 + (age_ms % 1000 != 0 ? 1 : 0);
}

}  // namespace jss::core
