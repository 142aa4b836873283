#include "shutdown_watchdog.h"

#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "jss/core/trigger/duration.h"

namespace jss::main {

struct ShutdownWatchdog::State {
  std::mutex mu;
  std::condition_variable cv;
  int signal = 0;
  bool done = false;
};

ShutdownWatchdog::ShutdownWatchdog(const sigset_t& signals,
                                   std::chrono::milliseconds shutdown_timeout,
                                   std::shared_ptr<logging::Logger> logger)
    : state_(std::make_shared<State>()) {
  // Detached: it sits in sigwait for the whole run, and a process that ends without a
  // signal (start-up failed) must not wait for it.
  std::thread([state = state_, signals, shutdown_timeout, logger = std::move(logger)] {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) return;
    std::unique_lock<std::mutex> lock(state->mu);
    state->signal = sig;
    state->cv.notify_all();
    if (state->cv.wait_for(lock, shutdown_timeout, [&] { return state->done; })) return;
    logger->Error("shutdown deadline passed; exiting without finishing the drain",
                  {{"shutdown_timeout", core::FormatDuration(shutdown_timeout)}});
    // Not exit(): static destructors and atexit handlers could wait on the very threads
    // that are stuck.
    _exit(0);
  }).detach();
}

const char* ShutdownWatchdog::AwaitSignal() {
  std::unique_lock<std::mutex> lock(state_->mu);
  state_->cv.wait(lock, [&] { return state_->signal != 0; });
  return state_->signal == SIGTERM ? "SIGTERM" : "SIGINT";
}

void ShutdownWatchdog::Done() {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->done = true;
  state_->cv.notify_all();
}

}  // namespace jss::main
