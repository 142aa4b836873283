#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>

#include <grpcpp/support/server_callback.h>

namespace jss::grpc_service {

// The service's calls from their handler's start to gRPC's OnDone (the answer handed to
// the transport). Stop uses it to tell "our calls are still running" from "only idle
// connections are left": gRPC's graceful shutdown also waits for every connection to
// answer the GOAWAY's PING, and one that never does (a client that is not reading: a
// partitioned node, a stalled or hostile caller) held the drain for its whole deadline
// although nothing was left to answer.
class CallsInFlight {
 public:
  // A unary reactor that counts as a call until gRPC's OnDone (it deletes itself there).
  grpc::ServerUnaryReactor* NewUnaryReactor();
  void Begin();
  void End();
  size_t count() const;
  // True as soon as no call is in flight; false if `deadline` comes first.
  bool AwaitIdle(std::chrono::steady_clock::time_point deadline) const;

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  size_t count_ = 0;
};

}  // namespace jss::grpc_service
