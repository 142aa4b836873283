#pragma once

#include <signal.h>

#include <chrono>
#include <memory>

#include "jss/logging/logger.h"

namespace jss::main {

// Waits for SIGTERM/SIGINT on a thread of its own from the moment it is created (the signals
// must be blocked in every thread), so a start-up stuck in a system call (a hung mount) ends
// on SIGTERM too. From the signal on, the process has `shutdown_timeout` to call Done();
// past it the watchdog logs why and exits with status 0 (the signal was obeyed; what was not
// drained is lost either way), so a drain that cannot finish (a NATS peer that never reads,
// a thread stuck in a write) never holds a rollout until Kubernetes' SIGKILL.
class ShutdownWatchdog {
 public:
  ShutdownWatchdog(const sigset_t& signals, std::chrono::milliseconds shutdown_timeout,
                   std::shared_ptr<logging::Logger> logger);
  ShutdownWatchdog(const ShutdownWatchdog&) = delete;
  ShutdownWatchdog& operator=(const ShutdownWatchdog&) = delete;

  // Blocks until a signal arrived; its name ("SIGTERM" or "SIGINT").
  const char* AwaitSignal();
  // The drain finished: the watchdog never exits the process after this.
  void Done();

 private:
  struct State;
  // Shared with the watchdog's detached thread, which may outlive main's frame.
  std::shared_ptr<State> state_;
};

}  // namespace jss::main
