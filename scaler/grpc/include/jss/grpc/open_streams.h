#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>

#include "jss/core/base/scheduler.h"
#include "jss/core/base/status.h"

namespace jss::grpc_service {

// The streams (StreamIsActive, StreamMetricSpec) currently open, so they can
// be ended on purpose: all at shutdown, or each one once it reaches its
// maximum age.
//
// Why an age: KEDA keeps one gRPC connection per scalerAddress for ever, and
// the server recycles it (GOAWAY) at --grpc-max-connection-age. A stream still
// open when that connection's grace period ends is cut with an error, which
// makes KEDA back off (2 s, doubling to 60 s); a stream that ends with OK is
// reopened after 2 s, on the new connection. So every stream ends with OK
// after a jittered age in [max_age/2, max_age], always before the grace period
// (max_age + margin) of the connection it runs on can run out.
class OpenStreams {
 public:
  using Closer = std::function<void(const core::Status&)>;

  // `max_age` zero: streams never age out. `scheduler` may be null then.
  OpenStreams(core::Scheduler* scheduler, std::chrono::milliseconds max_age);
  ~OpenStreams();

  // Two steps, because a stream needs its id (for Remove) before it exists
  // and may end before it is activated. Reserve returns 0 when the registry
  // is already closed: the caller then ends the stream itself.
  uint64_t Reserve();
  // `close` ends the stream with the given status; it must be safe to call
  // until Remove(id) returns. No effect if the stream already ended.
  void Activate(uint64_t id, Closer close);
  // Called from the stream's end (OnDone), before it is destroyed.
  void Remove(uint64_t id);
  // Ends every open stream with `status`, and each later Add() fails.
  void CloseAll(const core::Status& status);
  // Ends every stream open now with `status`; later streams are accepted as usual (used
  // before a connection is let go while the server keeps serving).
  void EndAll(const core::Status& status);

  size_t size() const;

 private:
  struct Entry {
    Closer close;
    core::Scheduler::TaskId age_task = 0;
  };
  // Shared with scheduled age tasks, which may run while the owner goes.
  struct State {
    // Recursive: gRPC may run a stream's OnDone (-> Remove) inline, on the
    // thread that is ending it under this lock. Holding the lock while
    // ending keeps a stream from being destroyed under us.
    mutable std::recursive_mutex mu;
    std::map<uint64_t, Entry> entries;
    uint64_t next_id = 1;
    bool closed = false;
    core::Status closed_with;
  };
  static void EndOne(const std::weak_ptr<State>& state, uint64_t id);
  std::chrono::milliseconds JitteredAge();

  core::Scheduler* scheduler_;
  const std::chrono::milliseconds max_age_;
  std::shared_ptr<State> state_;
  std::mutex rng_mu_;
  std::minstd_rand rng_;
};

}  // namespace jss::grpc_service
