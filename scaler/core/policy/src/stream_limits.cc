#include "jss/core/policy/stream_limits.h"

#include <fmt/format.h>

#include "jss/core/base/strings.h"

namespace jss::core {

Status StreamLimits::Admit(const std::string& connection) {
  std::lock_guard<std::mutex> lock(mu_);
  if (total_ >= max_total_) {
    return ResourceExhaustedError(
        fmt::format("the scaler already serves {} streams (--max-streams {}); retry later, or "
                    "raise the limit and the scaler's memory",
                    total_, max_total_));
  }
  auto it = per_connection_.find(connection);
  const size_t mine = it == per_connection_.end() ? 0 : it->second;
  if (mine >= max_per_connection_) {
    return ResourceExhaustedError(
        fmt::format("this client connection already has {} open streams "
                    "(--max-streams-per-connection {}); retry later, or raise the limit",
                    mine, max_per_connection_));
  }
  ++per_connection_[connection];
  ++total_;
  return OkStatus();
}

void StreamLimits::Release(const std::string& connection) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = per_connection_.find(connection);
  if (it == per_connection_.end() || it->second == 0) return;
  if (--it->second == 0) per_connection_.erase(it);
  --total_;
}

size_t StreamLimits::open() const {
  std::lock_guard<std::mutex> lock(mu_);
  return total_;
}

}  // namespace jss::core
