#include "jss/core/stream_limits.h"

#include "jss/core/strings.h"

namespace jss::core {

Status StreamLimits::Admit(const std::string& connection) {
  std::lock_guard<std::mutex> lock(mu_);
  if (total_ >= max_total_) {
    return ResourceExhaustedError(StrCat(
        "the scaler already serves ", total_, " streams (--max-streams ", max_total_,
        "); retry later, or raise the limit and the scaler's memory"));
  }
  auto it = per_connection_.find(connection);
  const size_t mine = it == per_connection_.end() ? 0 : it->second;
  if (mine >= max_per_connection_) {
    return ResourceExhaustedError(StrCat(
        "this client connection already has ", mine, " open streams (--max-streams-per-connection ",
        max_per_connection_, "); retry later, or raise the limit"));
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
