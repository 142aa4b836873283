#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "jss/core/base/status.h"

namespace jss::server {

// Files the scaler reads (the access policy, TLS PEM files) are small; anything bigger is
// refused rather than read into memory.
inline constexpr size_t kMaxConfigFileBytes = 1u << 20;

// The content of `path`, read only if it is a regular file of at most `max_bytes`: opened
// with O_NONBLOCK and checked with fstat first, so a FIFO, socket or device is refused at
// once instead of blocking the reader. Errors name `flag`, the path and the fix.
core::StatusOr<std::string> ReadRegularFile(const std::string& flag, const std::string& path,
                                            size_t max_bytes = kMaxConfigFileBytes);

// Re-reads the policy file every `interval` on a thread of its own: a file system that hangs
// (a stuck network mount) blocks only this thread, never the scheduler that drives gRPC
// health and push streams. `apply` is called with each new content (an unreadable file
// counts as one content, so it is reported once, not every interval) and never after Stop()
// has returned. Stop() waits briefly for the thread; one stuck in a system call is left
// behind (it touches nothing but its own state when it wakes) so shutdown never hangs.
class PolicyReloader {
 public:
  using Apply = std::function<void(const core::StatusOr<std::string>& text)>;
  PolicyReloader(std::string path, std::chrono::milliseconds interval, std::string current,
                 Apply apply);
  ~PolicyReloader();
  PolicyReloader(const PolicyReloader&) = delete;
  PolicyReloader& operator=(const PolicyReloader&) = delete;

  void Stop();

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace jss::server
