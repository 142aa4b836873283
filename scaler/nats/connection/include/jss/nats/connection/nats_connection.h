#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "jss/core/base/clock.h"
#include "jss/core/base/scheduler.h"
#include "jss/core/base/status.h"
#include "jss/core/lag/observer.h"
#include "jss/core/policy/nats_auth.h"
#include "jss/core/trigger/defaults.h"
#include "jss/logging/logger.h"

struct __natsConnection;
struct __natsSubscription;
struct __natsMsg;
struct __natsOptions;

namespace jss::nats {

class IoQueue;

// Everything needed to open one NATS connection. Secret members are never
// logged or exported.
struct NatsConnectionOptions {
  std::string name = "default";
  std::vector<std::string> servers;
  core::NatsAuth auth;
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds reconnect_wait{500};
  size_t max_in_flight = core::kDefaultMaxInFlight;
  // Replies larger than this fail the request (UNAVAILABLE) without being
  // copied or parsed; JetStream's consumer-info replies are about 1 KiB.
  size_t max_reply_bytes = 64 * 1024;
  // Longest a single socket write may block. A peer that stops reading makes
  // cnats give up the socket at this deadline and reconnect; with 0 a write
  // could block forever.
  std::chrono::milliseconds write_deadline{1000};
  // How long the connection reports not ready (IsStalled) after a write hit
  // the deadline, so a peer that completes every handshake and then stops
  // reading does not flap back to ready on each reconnect.
  std::chrono::milliseconds stall_hold{30000};
  // A connection that has sent us nothing (no reply, no PONG) for this long
  // is asked for a PONG; also cnats' own keep-alive PING interval.
  std::chrono::milliseconds ping_interval = core::kDefaultNatsPingInterval;
  // A PONG not back within this marks the peer unresponsive: not ready, and
  // reads fail at once (UNAVAILABLE) until it answers a later PING.
  std::chrono::milliseconds pong_timeout{1000};
  // cnats drops the socket and reconnects after this many unanswered PINGs.
  int max_pings_out = 2;
};

using ReplyCallback = std::function<void(const core::StatusOr<std::string>&)>;

// One long-lived, auto-reconnecting connection plus an asynchronous
// request/reply channel: every request shares one wildcard inbox
// subscription, and the process' scheduler fails requests at their deadline
// and checks that the peer still answers (PING/PONG). Nothing here ever
// blocks a caller on the network: requests, subscribes and unsubscribes are
// queued (bounded) for one I/O thread, the only one of ours that writes to
// the socket, and every write has a deadline (a peer that stops reading cannot
// freeze gRPC or timer threads, and is reported by IsStalled()).
class NatsConnection {
 public:
  // Starts connecting; returns even if the server is not reachable yet (the
  // connection keeps retrying in the background). Fails only on bad options.
  static core::StatusOr<std::unique_ptr<NatsConnection>> Open(
      NatsConnectionOptions options, core::NatsObserver& observer,
      std::shared_ptr<logging::Logger> logger, core::Scheduler& scheduler);

  ~NatsConnection();
  NatsConnection(const NatsConnection&) = delete;
  NatsConnection& operator=(const NatsConnection&) = delete;

  // Sends `subject` with an empty body; `done` runs exactly once with the
  // reply body or a status (UNAVAILABLE when disconnected, unanswered by the
  // deadline or without responders; RESOURCE_EXHAUSTED when too many
  // requests are in flight).
  void Request(const std::string& subject, core::SteadyTime deadline, ReplyCallback done);
  // Like Request, with a request body (a JSON message-get request).
  void Request(const std::string& subject, std::string body, core::SteadyTime deadline,
               ReplyCallback done);
  // Like Request with a body, but `done` gets the reply's status or, for a
  // stored message, the server's Nats-Sequence and Nats-Time-Stamp headers
  // ("Name: value\r\n" lines, each value cut to 64 bytes; see
  // src/jetstream_headers.h), never its payload, which is not copied however
  // large it is (a direct get of a big message). No responders is
  // "Status: 503", not an error.
  void RequestHeaders(const std::string& subject, std::string body, core::SteadyTime deadline,
                      ReplyCallback done);

  // A core NATS subscription that calls `on_message` (on a cnats delivery
  // thread) for every message, or only for the first `max_messages` (> 0:
  // the server then drops the interest itself); destroying the handle
  // unsubscribes. SUB and UNSUB are written by the I/O thread, in order with
  // requests (a request made after Subscribe returns reaches the server
  // after the SUB), so this never waits for the socket. RESOURCE_EXHAUSTED
  // when the I/O queue is full; a SUB cnats refuses later is reported to
  // `on_failed` (on the I/O thread), as is nothing else.
  class Subscription {
   public:
    virtual ~Subscription() = default;
  };
  core::StatusOr<std::unique_ptr<Subscription>> Subscribe(
      const std::string& subject, std::function<void()> on_message, int max_messages = 0,
      std::function<void(const core::Status&)> on_failed = nullptr);

  // Connection events the push wake-up acts on; called on cnats threads.
  struct Events {
    // Reconnected after an outage: core subscriptions saw nothing meanwhile.
    std::function<void()> reconnected;
    // The server refused a subscription to `subject` (a permissions
    // violation, reported asynchronously after Subscribe returned).
    std::function<void(const std::string& subject)> subscribe_denied;
  };
  // Replaces the listeners (empty Events: none).
  void SetEvents(Events events);

  bool IsConnected() const;
  // True while a socket write is blocked past half the write deadline, and
  // for `stall_hold` after a write hit the deadline: the peer (or the path
  // to it) is not reading. Also true while the peer is unresponsive (a PING
  // went unanswered for `pong_timeout`, and nothing arrived since).
  // Readiness turns false so traffic moves elsewhere.
  bool IsStalled() const;
  bool IsUnresponsive() const { return unresponsive_.load(); }
  // PONGs received for our own PINGs (diagnostics and tests).
  uint64_t pongs() const { return pongs_.load(); }
  // Fails every request in flight with `status` now (their callbacks run on
  // this thread). Used by a draining server: a reply NATS has not sent yet
  // must not hold the process past its grace period.
  void FailPending(const core::Status& status) { FailAll(status, "shutdown"); }
  // True once cnats closed the connection for good without being asked to
  // (it gave up, e.g. on a fatal error while connecting). Nothing in this
  // process will reconnect it: /healthz turns 503 so Kubernetes restarts us.
  bool IsDead() const { return dead_.load(); }
  const std::string& name() const { return options_.name; }

  // Fails every pending request, cancels its timers and closes the connection.
  void Shutdown();

 private:
  struct Pending {
    ReplyCallback done;
    core::SteadyTime sent_at;
    uint64_t secret;  // random; part of the reply subject, checked on reply
    core::Scheduler::TaskId timer = 0;  // fails the request at its deadline
    bool headers_only = false;  // RequestHeaders: the reply's headers, not its body
  };
  // Scheduler tasks hold this: Shutdown marks it dead (waiting for a task
  // that is running), so a task never touches a destroyed connection.
  struct Lifeline {
    std::mutex mu;
    bool alive = true;
  };
  struct Publish {
    uint64_t id;
    uint64_t secret;
    std::string subject;
    std::string body;
  };
  void Send(const std::string& subject, std::string body, bool headers_only,
            core::SteadyTime deadline, ReplyCallback done);
  std::string ReplySubject(uint64_t id, uint64_t secret) const;

  NatsConnection(NatsConnectionOptions options, core::NatsObserver& observer,
                 std::shared_ptr<logging::Logger> logger, core::Scheduler& scheduler);
  core::Status Start();
  core::Status ConfigureOptions(__natsOptions* opts, const std::string& conn_label);
  void OnReply(__natsMsg* msg);
  void PublishNow(const Publish& publish);
  // Runs `task` on the scheduler after `delay` unless this was shut down.
  core::Scheduler::TaskId Schedule(std::chrono::milliseconds delay, std::function<void()> task);
  void Expire(uint64_t id);
  void SchedulePing();
  void Ping();
  void MarkAlive();
  void MarkUnresponsive(std::string_view why);
  // Once per (re)connect, when the reply inbox exists: asks $JS.API.INFO for
  // the server's JetStream API level, logs it and tells the observer.
  void MaybeProbeApiLevel();
  void ProbeApiLevel();

  void FailAll(const core::Status& status, std::string_view reason);
  // Removes request `id` from the pending set; false if it is gone already.
  bool TakePending(uint64_t id, Pending* out);
  void Finish(Pending pending, const core::StatusOr<std::string>& result,
              std::string_view reason);

  static void OnMessage(__natsConnection*, __natsSubscription*, __natsMsg* msg, void* self);
  static void OnConnected(__natsConnection*, void* self);
  static void OnDisconnected(__natsConnection*, void* self);
  static void OnReconnected(__natsConnection*, void* self);
  static void OnClosed(__natsConnection*, void* self);
  friend struct CnatsErrors;  // the asynchronous error handler
  void OnPermissionViolation(const std::string& text);

  std::mutex events_mu_;
  Events events_;  // guarded by events_mu_

  const NatsConnectionOptions options_;
  core::NatsObserver& observer_;
  std::shared_ptr<logging::Logger> logger_;
  core::Scheduler& scheduler_;
  const std::shared_ptr<Lifeline> lifeline_ = std::make_shared<Lifeline>();

  __natsConnection* conn_ = nullptr;
  __natsSubscription* inbox_sub_ = nullptr;
  std::string inbox_prefix_;  // "_INBOX.<nuid>." ; reply subjects append an id
  std::atomic<uint64_t> next_id_{1};
  std::atomic<bool> connected_{false};
  std::atomic<bool> dead_{false};

  std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<uint64_t, Pending> pending_;
  std::mt19937_64 secrets_{std::random_device{}()};  // guarded by mu_
  bool stopping_ = false;
  std::atomic<bool> stopping_requested_{false};  // read by cnats callbacks
  bool closed_ = false;
  core::Scheduler::TaskId ping_task_ = 0;  // guarded by mu_

  // The I/O thread and its queue (publishes, subscribes and unsubscribes, in
  // order); shared with subscription handles, which may outlive this object.
  std::shared_ptr<IoQueue> io_;
  // steady_clock ticks; 0 = no write in progress / no stall seen.
  std::atomic<int64_t> write_started_{0};
  std::atomic<int64_t> last_stall_{0};
  // steady_clock ticks of the last thing the peer sent (reply, PONG, connect).
  std::atomic<int64_t> last_alive_{0};
  std::atomic<bool> ping_in_flight_{false};
  std::atomic<bool> unresponsive_{false};
  std::atomic<uint64_t> pongs_{0};
  // Connects so far, and the one whose API level was asked for.
  std::atomic<uint64_t> connects_{0};
  std::atomic<uint64_t> probed_connects_{0};
  std::atomic<bool> inbox_ready_{false};
};

}  // namespace jss::nats
