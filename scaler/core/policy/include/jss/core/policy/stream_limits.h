#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

#include "jss/core/base/status.h"

namespace jss::core {

// Counts open streaming RPCs, in total and per client connection (gRPC peer
// address), and refuses one beyond either limit. Each open stream costs the
// scaler memory for as long as the client keeps it open, so neither one
// client nor all of them together may open an unbounded number.
class StreamLimits {
 public:
  StreamLimits(size_t max_total, size_t max_per_connection)
      : max_total_(max_total), max_per_connection_(max_per_connection) {}

  // OK and counted, or RESOURCE_EXHAUSTED naming the limit (not counted).
  Status Admit(const std::string& connection);
  // Once per admitted stream, when it ends.
  void Release(const std::string& connection);

  size_t open() const;

 private:
  const size_t max_total_;
  const size_t max_per_connection_;
  mutable std::mutex mu_;
  size_t total_ = 0;
  std::unordered_map<std::string, size_t> per_connection_;
};

}  // namespace jss::core
