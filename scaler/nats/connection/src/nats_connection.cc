#include "jss/nats/connection/nats_connection.h"

#include <nats/nats.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <thread>
#include <utility>

#include "jss/core/base/status.h"
#include "jss/core/base/strings.h"
#include "jss/core/lag/consumer_info_decoder.h"
#include "cnats_options.h"
#include "connection_util.h"
#include "io_queue.h"
#include "jetstream_headers.h"

namespace jss::nats {

using detail::LastError;
using detail::OptionsPtr;
using detail::SecondsSince;
using detail::Ticks;

NatsConnection::NatsConnection(NatsConnectionOptions options, core::NatsObserver& observer,
                               std::shared_ptr<logging::Logger> logger,
                               core::Scheduler& scheduler)
    : options_(std::move(options)),
      observer_(observer),
      logger_(std::move(logger)),
      scheduler_(scheduler) {}

core::StatusOr<std::unique_ptr<NatsConnection>> NatsConnection::Open(
    NatsConnectionOptions options, core::NatsObserver& observer,
    std::shared_ptr<logging::Logger> logger, core::Scheduler& scheduler) {
  if (options.servers.empty()) {
    return core::InvalidArgumentError(
        fmt::format("NATS connection \"{}\" has no server URL", options.name));
  }
  std::unique_ptr<NatsConnection> conn(
      new NatsConnection(std::move(options), observer, std::move(logger), scheduler));
  if (core::Status s = conn->Start(); !s.ok()) return s;
  return conn;
}

// cnats (3.4) reports a refused SUB only as NATS_NOT_PERMITTED on the
// connection, with the server's text (`Permissions Violation for
// Subscription to "orders.1"`) as the connection's last error.
struct CnatsErrors {
  static void OnError(natsConnection* nc, natsSubscription*, natsStatus err, void* self) {
    if (err != NATS_NOT_PERMITTED) return;
    const char* text = nullptr;
    natsConnection_GetLastError(nc, &text);
    if (text != nullptr) static_cast<NatsConnection*>(self)->OnPermissionViolation(text);
  }
};

core::Status NatsConnection::ConfigureOptions(natsOptions* opts,
                                              const std::string& conn_label) {
  std::vector<const char*> servers;
  for (const auto& url : options_.servers) servers.push_back(url.c_str());
  natsStatus s = natsOptions_SetServers(opts, servers.data(), static_cast<int>(servers.size()));
  if (s != NATS_OK) return NatsError(s, fmt::format("{}: bad --nats-url", conn_label));
  natsOptions_SetName(opts, "jetstream-scaler");
  natsOptions_SetTimeout(opts, options_.connect_timeout.count());
  natsOptions_SetMaxReconnect(opts, -1);  // never give up: KEDA keeps asking
  natsOptions_SetReconnectWait(opts, options_.reconnect_wait.count());
  natsOptions_SetReconnectJitter(opts, 100, 1000);
  // A peer that keeps the socket open but stops answering is dropped and
  // reconnected after `max_pings_out` unanswered PINGs (Ping() reports it
  // unresponsive sooner, after one).
  natsOptions_SetPingInterval(opts, options_.ping_interval.count());
  natsOptions_SetMaxPingsOut(opts, options_.max_pings_out);
  natsOptions_SetNoEcho(opts, true);
  // Without a deadline a write to a peer that stopped reading blocks forever
  // (and holds cnats' connection lock, so every other call queues behind it).
  // At the deadline cnats drops the socket and reconnects.
  natsOptions_SetWriteDeadline(opts, options_.write_deadline.count());
  // Each request is one small frame that someone is waiting for: write it
  // now instead of waiting for the flusher thread (~1 ms per read otherwise).
  natsOptions_SetSendAsap(opts, true);
  // Wake-up subscriptions (one per idle watched consumer) share a small pool
  // of delivery threads instead of a thread each.
  natsOptions_UseGlobalMessageDelivery(opts, true);
  natsOptions_SetDisconnectedCB(opts, &NatsConnection::OnDisconnected, this);
  natsOptions_SetReconnectedCB(opts, &NatsConnection::OnReconnected, this);
  natsOptions_SetClosedCB(opts, &NatsConnection::OnClosed, this);
  // Refused subscriptions (the push wake-up) are reported only through it.
  natsOptions_SetErrorHandler(opts, &CnatsErrors::OnError, this);
  // Start even if NATS is down: the scaler reports UNAVAILABLE (never 0)
  // until it connects, and /readyz tells Kubernetes.
  natsOptions_SetRetryOnFailedConnect(opts, true, &NatsConnection::OnConnected, this);
  return ApplyAuth(opts, options_.auth, conn_label);
}

core::Status NatsConnection::Start() {
  natsOptions* raw = nullptr;
  if (natsStatus s = natsOptions_Create(&raw); s != NATS_OK) {
    return NatsError(s, "creating NATS options");
  }
  OptionsPtr opts(raw);
  const std::string conn_label = fmt::format("connection \"{}\"", options_.name);
  if (core::Status st = ConfigureOptions(opts.get(), conn_label); !st.ok()) return st;

  natsStatus s = NATS_OK;
  char* inbox = nullptr;
  if (s = natsInbox_Create(&inbox); s != NATS_OK) return NatsError(s, "creating inbox");
  inbox_prefix_ = fmt::format("{}.", inbox);
  natsInbox_Destroy(inbox);

  io_ = std::make_shared<IoQueue>(2 * options_.max_in_flight);

  s = natsConnection_Connect(&conn_, opts.get());
  if (s == NATS_OK) {
    connected_ = true;
    ++connects_;
    MarkAlive();
    observer_.OnConnectionState(options_.name, true);
    logger_->Info("connected to NATS", {{"connection", options_.name}});
  } else if (s == NATS_NOT_YET_CONNECTED) {
    observer_.OnConnectionState(options_.name, false);
    logger_->Warn("NATS not reachable yet; retrying in the background",
                  {{"connection", options_.name},
                   {"servers", fmt::format("{}", fmt::join(options_.servers, ","))}});
  } else {
    Shutdown();
    return NatsError(s, fmt::format("{}: connecting", conn_label));
  }

  const std::string wildcard = fmt::format("{}*", inbox_prefix_);
  s = natsConnection_Subscribe(&inbox_sub_, conn_, wildcard.c_str(), &NatsConnection::OnMessage,
                               this);
  if (s == NATS_CONNECTION_CLOSED) {
    // cnats gave up while connecting (seen with servers that never complete
    // the handshake). Start anyway: every read fails UNAVAILABLE and
    // /healthz asks Kubernetes for a restart, which retries from scratch.
    dead_ = true;
    logger_->Error("NATS connection closed for good while connecting; reporting unhealthy",
                   {{"connection", options_.name}, {"last_error", LastError(conn_)}});
    return core::OkStatus();
  }
  if (s != NATS_OK) {
    const std::string cause = LastError(conn_);
    Shutdown();
    return NatsError(s, fmt::format("{}: subscribing to reply inbox{}", conn_label,
                                    cause.empty() ? "" : fmt::format(" (NATS: {})", cause)));
  }
  // Replies are small; a generous count limit avoids dropping replies in a
  // burst (a dropped reply only costs a timeout, never a wrong value), and
  // the byte limit caps what a peer sending huge replies can make us hold.
  natsSubscription_SetPendingLimits(inbox_sub_, 1 << 20, 32 << 20);
  inbox_ready_ = true;
  MaybeProbeApiLevel();
  SchedulePing();
  return core::OkStatus();
}

NatsConnection::~NatsConnection() { Shutdown(); }

void NatsConnection::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  stopping_requested_ = true;
  {
    // Waits for a task of ours that is running; none starts after this.
    std::lock_guard<std::mutex> lock(lifeline_->mu);
    lifeline_->alive = false;
  }
  core::Scheduler::TaskId ping_task = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ping_task = ping_task_;
  }
  if (ping_task != 0) scheduler_.Cancel(ping_task);
  // A write or PING in progress ends by its deadline.
  if (io_) io_->Stop();
  FailAll(core::UnavailableError("the scaler is shutting down"), "disconnected");
  if (inbox_sub_ != nullptr) {
    natsSubscription_Unsubscribe(inbox_sub_);
    natsSubscription_Destroy(inbox_sub_);
    inbox_sub_ = nullptr;
  }
  if (conn_ != nullptr) {
    natsConnection_Close(conn_);
    {
      // The closed callback is the last one cnats makes with `this`; wait for
      // it (bounded) before the object can go away.
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::seconds(2), [this] { return closed_; });
    }
    natsConnection_Destroy(conn_);
    conn_ = nullptr;
  }
}

bool NatsConnection::IsConnected() const { return connected_.load(); }

bool NatsConnection::IsStalled() const {
  if (unresponsive_.load()) return true;
  const int64_t now = Ticks(std::chrono::steady_clock::now());
  const int64_t writing_since = write_started_.load();
  const auto half_deadline =
      std::chrono::duration_cast<core::SteadyTime::duration>(options_.write_deadline / 2)
          .count();
  if (writing_since != 0 && now - writing_since > half_deadline) return true;
  const int64_t stall = last_stall_.load();
  return stall != 0 &&
         now - stall <
             std::chrono::duration_cast<core::SteadyTime::duration>(options_.stall_hold).count();
}

void NatsConnection::Request(const std::string& subject, core::SteadyTime deadline,
                             ReplyCallback done) {
  Send(subject, {}, /*headers_only=*/false, deadline, std::move(done));
}

void NatsConnection::Request(const std::string& subject, std::string body,
                             core::SteadyTime deadline, ReplyCallback done) {
  Send(subject, std::move(body), /*headers_only=*/false, deadline, std::move(done));
}

void NatsConnection::RequestHeaders(const std::string& subject, std::string body,
                                    core::SteadyTime deadline, ReplyCallback done) {
  Send(subject, std::move(body), /*headers_only=*/true, deadline, std::move(done));
}

void NatsConnection::Send(const std::string& subject, std::string body, bool headers_only,
                          core::SteadyTime deadline, ReplyCallback done) {
  const auto now = std::chrono::steady_clock::now();
  // Before the connected check: cnats reconnecting to a peer that left PINGs
  // unanswered is the same outage, and this names its cause.
  if (unresponsive_.load() && !dead_.load()) {
    // Known silent: waiting for the deadline would only make KEDA wait too.
    observer_.OnRequestDone(options_.name, "unresponsive", 0);
    done(core::UnavailableError(fmt::format(
        "NATS connection \"{}\" is not answering (a PING got no PONG within {} ms); reads fail "
        "until it answers again",
        options_.name, options_.pong_timeout.count())));
    return;
  }
  if (!connected_.load() || conn_ == nullptr) {
    observer_.OnRequestDone(options_.name, "disconnected", 0);
    // Goes to tenants (KEDA events): names the connection, never its URLs;
    // the operator finds them in the scaler's own log and flags.
    done(core::UnavailableError(fmt::format(
        "NATS connection \"{}\" is not connected; {}", options_.name,
        dead_.load() ? "it was closed for good and the scaler reports unhealthy to be restarted"
                     : "retrying in the background")));
    return;
  }
  if (deadline <= now) {
    observer_.OnRequestDone(options_.name, "timeout", 0);
    done(core::UnavailableError("request deadline passed before NATS was asked"));
    return;
  }
  const uint64_t id = next_id_.fetch_add(1);
  bool stopping = false;
  bool overloaded = false;
  uint64_t secret = 0;
  {
    // `done` is called outside the lock: it may start another request.
    std::lock_guard<std::mutex> lock(mu_);
    stopping = stopping_;
    overloaded = !stopping && pending_.size() >= options_.max_in_flight;
    if (!stopping && !overloaded) {
      secret = secrets_();
      // Rounded up: the request is never failed before its deadline.
      const auto delay = std::chrono::ceil<std::chrono::milliseconds>(deadline - now);
      const auto timer = Schedule(delay, [this, id] { Expire(id); });
      pending_.emplace(id, Pending{std::move(done), now, secret, timer, headers_only});
    }
  }
  if (stopping) {
    done(core::UnavailableError("the scaler is shutting down"));
    return;
  }
  if (overloaded) {
    observer_.OnRequestDone(options_.name, "overloaded", 0);
    done(core::ResourceExhaustedError(fmt::format(
        "too many JetStream API requests in flight on connection \"{}\" (limit {}); retry later",
        options_.name, options_.max_in_flight)));
    return;
  }
  observer_.OnRequestSent(options_.name);
  // Written by the I/O thread: this (gRPC, scheduler or delivery) thread
  // never waits for the socket.
  if (io_->Post([this, publish = Publish{id, secret, subject, std::move(body)}] {
        PublishNow(publish);
      })) {
    return;
  }
  Pending pending;
  if (!TakePending(id, &pending)) return;  // already failed by timer/disconnect
  Finish(std::move(pending),
         core::ResourceExhaustedError(fmt::format("NATS connection \"{}\" is not keeping up with "
                                                  "writes (its peer is not reading); retry later",
                                                  options_.name)),
         "overloaded");
}

void NatsConnection::PublishNow(const Publish& publish) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Failed meanwhile (deadline, disconnect): nobody waits for the reply.
    if (pending_.find(publish.id) == pending_.end()) return;
  }
  const std::string reply = ReplySubject(publish.id, publish.secret);
  const auto start = std::chrono::steady_clock::now();
  write_started_ = Ticks(start);
  const natsStatus s =
      natsConnection_PublishRequest(conn_, publish.subject.c_str(), reply.c_str(),
                                    publish.body.empty() ? nullptr : publish.body.data(),
                                    static_cast<int>(publish.body.size()));
  write_started_ = 0;
  const auto took = std::chrono::steady_clock::now() - start;
  if (s == NATS_TIMEOUT || took >= options_.write_deadline / 2) {
    const int64_t previous = last_stall_.exchange(Ticks(start + took));
    const auto hold =
        std::chrono::duration_cast<core::SteadyTime::duration>(options_.stall_hold).count();
    if (previous == 0 || Ticks(start) - previous >= hold) {  // a new episode
      logger_->Warn(
          "NATS peer is not reading: a write stalled; reporting not ready",
          {{"connection", options_.name},
           {"write_ms",
            fmt::format("{}",
                        std::chrono::duration_cast<std::chrono::milliseconds>(took).count())}});
    }
  }
  if (s == NATS_OK) return;
  Pending pending;
  if (!TakePending(publish.id, &pending)) return;  // already failed by timer/disconnect
  Finish(
      std::move(pending),
      core::UnavailableError(fmt::format("publishing to NATS failed: {}", natsStatus_GetText(s))),
      "disconnected");
}

bool NatsConnection::TakePending(uint64_t id, Pending* out) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = pending_.find(id);
    if (it == pending_.end()) return false;
    *out = std::move(it->second);
    pending_.erase(it);
  }
  return true;
}

void NatsConnection::Finish(Pending pending, const core::StatusOr<std::string>& result,
                            std::string_view reason) {
  // No effect when the timer itself is finishing the request.
  if (pending.timer != 0) scheduler_.Cancel(pending.timer);
  observer_.OnRequestDone(options_.name, reason, SecondsSince(pending.sent_at));
  pending.done(result);
}

core::Scheduler::TaskId NatsConnection::Schedule(std::chrono::milliseconds delay,
                                                 std::function<void()> task) {
  return scheduler_.RunAfter(delay, [life = lifeline_, task = std::move(task)] {
    std::lock_guard<std::mutex> lock(life->mu);
    if (life->alive) task();
  });
}

void NatsConnection::Expire(uint64_t id) {
  Pending pending;
  if (!TakePending(id, &pending)) return;  // answered or failed meanwhile
  pending.timer = 0;                       // running now
  Finish(std::move(pending),
         core::UnavailableError(fmt::format(
             "NATS did not answer within the request deadline (connection \"{}\")", options_.name)),
         "timeout");
}

// "<prefix><id>_<secret in hex>": the id finds the request, the random
// secret makes a reply subject unguessable, so a client allowed to publish on
// the inbox prefix cannot answer requests it has not seen.
std::string NatsConnection::ReplySubject(uint64_t id, uint64_t secret) const {
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(secret));
  return fmt::format("{}{}_{}", inbox_prefix_, id, std::string_view(hex, 16));
}

void NatsConnection::OnReply(natsMsg* msg) {
  // Anything arriving proves the peer answers; the next PING can wait.
  MarkAlive();
  if (unresponsive_.exchange(false)) {
    logger_->Info("NATS peer answers again; reporting ready", {{"connection", options_.name}});
  }
  const char* subject = natsMsg_GetSubject(msg);
  std::string_view sv(subject ? subject : "");
  if (sv.size() <= inbox_prefix_.size()) return;
  sv.remove_prefix(inbox_prefix_.size());
  const size_t sep = sv.find('_');
  uint64_t id = 0;
  if (sep == std::string_view::npos || sv.size() - sep - 1 != 16 ||
      !core::ParseUint64(sv.substr(0, sep), &id)) {
    return;
  }
  const std::string_view secret_hex = sv.substr(sep + 1);
  uint64_t secret = 0;
  for (char c : secret_hex) {
    const int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (digit < 0) return;
    secret = secret << 4 | static_cast<uint64_t>(digit);
  }
  Pending pending;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = pending_.find(id);
    // Late (after its deadline) or forged (wrong secret): nobody is told.
    if (it == pending_.end() || it->second.secret != secret) return;
    pending = std::move(it->second);
    pending_.erase(it);
  }
  if (pending.headers_only) {
    // The caller decides what a 503 means (a direct get falls back), but the
    // request metrics still call it what it is.
    Finish(std::move(pending), JetStreamHeaders(msg),
           natsMsg_IsNoResponders(msg) ? "no_responders" : "ok");
    return;
  }
  if (natsMsg_IsNoResponders(msg)) {
    Finish(std::move(pending),
           core::UnavailableError(
               "no JetStream responder: JetStream is not enabled for this account, or "
               "the stream has no leader right now"),
           "no_responders");
    return;
  }
  const char* data = natsMsg_GetData(msg);
  const int len = natsMsg_GetDataLength(msg);
  if (len < 0 || static_cast<size_t>(len) > options_.max_reply_bytes) {
    Finish(std::move(pending),
           core::UnavailableError(fmt::format(
               "NATS reply of {} bytes on connection \"{}\" exceeds the {}-byte limit; ignored",
               len, options_.name, options_.max_reply_bytes)),
           "other");
    return;
  }
  Finish(std::move(pending), std::string(data ? data : "", data ? static_cast<size_t>(len) : 0),
         "ok");
}

void NatsConnection::FailAll(const core::Status& status, std::string_view reason) {
  std::unordered_map<uint64_t, Pending> failed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    failed.swap(pending_);
  }
  for (auto& [id, p] : failed) Finish(std::move(p), status, reason);
}

void NatsConnection::OnMessage(natsConnection*, natsSubscription*, natsMsg* msg, void* self) {
  static_cast<NatsConnection*>(self)->OnReply(msg);
  natsMsg_Destroy(msg);
}

void NatsConnection::OnConnected(natsConnection*, void* self) {
  auto* c = static_cast<NatsConnection*>(self);
  c->MarkAlive();
  c->connected_ = true;
  ++c->connects_;
  c->observer_.OnConnectionState(c->options_.name, true);
  c->logger_->Info("connected to NATS", {{"connection", c->options_.name}});
  c->MaybeProbeApiLevel();
}

void NatsConnection::OnDisconnected(natsConnection* nc, void* self) {
  auto* c = static_cast<NatsConnection*>(self);
  c->connected_ = false;
  c->observer_.OnConnectionState(c->options_.name, false);
  // Replies to requests already sent cannot arrive on a dead socket: fail them
  // now instead of at their deadline.
  c->FailAll(core::UnavailableError(
                 fmt::format("NATS connection \"{}\" was lost; reconnecting", c->options_.name)),
             "disconnected");
  if (c->stopping_requested_.load()) return;  // our own Close(), not an outage
  const char* text = nullptr;
  if (natsConnection_GetLastError(nc, &text) == NATS_STALE_CONNECTION) {
    // cnats' own PINGs went unanswered: the peer is silent, not just gone.
    c->MarkUnresponsive("unanswered PINGs (stale connection)");
  }
  c->logger_->Warn("disconnected from NATS; reconnecting",
                   {{"connection", c->options_.name}, {"last_error", LastError(nc)}});
}

void NatsConnection::OnReconnected(natsConnection*, void* self) {
  auto* c = static_cast<NatsConnection*>(self);
  c->MarkAlive();
  c->connected_ = true;
  ++c->connects_;
  c->observer_.OnConnectionState(c->options_.name, true);
  c->observer_.OnReconnect(c->options_.name);
  c->logger_->Info("reconnected to NATS", {{"connection", c->options_.name}});
  // Maybe another server (a rolling upgrade): its level may differ.
  c->MaybeProbeApiLevel();
  // A peer marked unresponsive must answer a PING before reads resume; ask
  // now rather than at the next tick, so a recovered server is used at once.
  if (c->unresponsive_.load() && !c->stopping_requested_.load()) c->Ping();
  std::function<void()> reconnected;
  {
    std::lock_guard<std::mutex> lock(c->events_mu_);
    reconnected = c->events_.reconnected;
  }
  if (reconnected) reconnected();
}

void NatsConnection::SetEvents(Events events) {
  std::lock_guard<std::mutex> lock(events_mu_);
  events_ = std::move(events);
}

void NatsConnection::OnPermissionViolation(const std::string& text) {
  static constexpr std::string_view kMarker = "subscription to \"";
  std::string lower(text);
  for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  const size_t at = lower.find(kMarker);
  if (at == std::string::npos) return;  // a refused publish: its request times out
  const size_t begin = at + kMarker.size();
  const size_t end = text.find('"', begin);
  if (end == std::string::npos) return;
  const std::string subject = text.substr(begin, end - begin);
  std::function<void(const std::string&)> denied;
  {
    std::lock_guard<std::mutex> lock(events_mu_);
    denied = events_.subscribe_denied;
  }
  if (denied) denied(subject);
}

void NatsConnection::OnClosed(natsConnection* nc, void* self) {
  auto* c = static_cast<NatsConnection*>(self);
  c->connected_ = false;
  if (!c->stopping_requested_.load() && !c->dead_.exchange(true)) {
    c->logger_->Error("NATS connection closed for good; reporting unhealthy",
                      {{"connection", c->options_.name}, {"last_error", LastError(nc)}});
  }
  c->observer_.OnConnectionState(c->options_.name, false);
  std::lock_guard<std::mutex> lock(c->mu_);
  c->closed_ = true;
  c->cv_.notify_all();
}

}  // namespace jss::nats
