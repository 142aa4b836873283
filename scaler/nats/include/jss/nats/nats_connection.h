#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <queue>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "jss/core/clock.h"
#include "jss/core/defaults.h"
#include "jss/core/nats_auth.h"
#include "jss/core/observer.h"
#include "jss/logging/logger.h"
#include "jss/core/status.h"

struct __natsConnection;
struct __natsSubscription;
struct __natsMsg;

namespace jss::nats {

// Everything needed to open one NATS connection. Secret members are never
// logged or exported.
struct NatsConnectionOptions {
  std::string name = "default";
  std::vector<std::string> servers;
  core::NatsAuth auth;
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds reconnect_wait{500};
  size_t max_in_flight = core::kDefaultMaxInFlight;
};

using ReplyCallback = std::function<void(const core::StatusOr<std::string>&)>;

// One long-lived, auto-reconnecting connection plus an asynchronous
// request/reply channel: every request shares one wildcard inbox
// subscription, and a timer thread fails requests at their deadline. Nothing
// here ever blocks a caller on the network.
class NatsConnection {
 public:
  // Starts connecting; returns even if the server is not reachable yet (the
  // connection keeps retrying in the background). Fails only on bad options.
  static core::StatusOr<std::unique_ptr<NatsConnection>> Open(
      NatsConnectionOptions options, core::NatsObserver& observer,
      std::shared_ptr<logging::Logger> logger);

  ~NatsConnection();
  NatsConnection(const NatsConnection&) = delete;
  NatsConnection& operator=(const NatsConnection&) = delete;

  // Sends `subject` with an empty body; `done` runs exactly once with the
  // reply body or a status (UNAVAILABLE when disconnected, unanswered by the
  // deadline or without responders; RESOURCE_EXHAUSTED when too many
  // requests are in flight).
  void Request(const std::string& subject, core::SteadyTime deadline, ReplyCallback done);

  // A core NATS subscription that calls `on_message` (on a cnats delivery
  // thread) for every message, or only for the first `max_messages` (> 0:
  // the server then drops the interest itself); destroying the handle
  // unsubscribes.
  class Subscription {
   public:
    virtual ~Subscription() = default;
  };
  core::StatusOr<std::unique_ptr<Subscription>> Subscribe(const std::string& subject,
                                                          std::function<void()> on_message,
                                                          int max_messages = 0);

  bool IsConnected() const;
  // Fails every request in flight with `status` now (their callbacks run on
  // this thread). Used by a draining server: a reply NATS has not sent yet
  // must not hold the process past its grace period.
  void FailPending(const core::Status& status) { FailAll(status, "shutdown"); }
  // True once cnats closed the connection for good without being asked to
  // (it gave up, e.g. on a fatal error while connecting). Nothing in this
  // process will reconnect it: /healthz turns 503 so Kubernetes restarts us.
  bool IsDead() const { return dead_.load(); }
  const std::string& name() const { return options_.name; }

  // Fails every pending request, closes the connection and joins the timer.
  void Shutdown();

 private:
  struct Pending {
    ReplyCallback done;
    core::SteadyTime sent_at;
  };

  NatsConnection(NatsConnectionOptions options, core::NatsObserver& observer,
                 std::shared_ptr<logging::Logger> logger);
  core::Status Start();
  void OnReply(__natsMsg* msg);
  void TimerLoop();
  void FailAll(const core::Status& status, std::string_view reason);
  void Finish(Pending pending, const core::StatusOr<std::string>& result,
              std::string_view reason);

  static void OnMessage(__natsConnection*, __natsSubscription*, __natsMsg* msg, void* self);
  static void OnConnected(__natsConnection*, void* self);
  static void OnDisconnected(__natsConnection*, void* self);
  static void OnReconnected(__natsConnection*, void* self);
  static void OnClosed(__natsConnection*, void* self);

  const NatsConnectionOptions options_;
  core::NatsObserver& observer_;
  std::shared_ptr<logging::Logger> logger_;

  __natsConnection* conn_ = nullptr;
  __natsSubscription* inbox_sub_ = nullptr;
  std::string inbox_prefix_;  // "_INBOX.<nuid>." ; reply subjects append an id
  std::atomic<uint64_t> next_id_{1};
  std::atomic<bool> connected_{false};
  std::atomic<bool> dead_{false};

  std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<uint64_t, Pending> pending_;
  using DeadlineItem = std::pair<core::SteadyTime, uint64_t>;
  std::priority_queue<DeadlineItem, std::vector<DeadlineItem>, std::greater<>> deadlines_;
  bool stopping_ = false;
  std::atomic<bool> stopping_requested_{false};  // read by cnats callbacks
  bool closed_ = false;
  std::thread timer_;
};

}  // namespace jss::nats
