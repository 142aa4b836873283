#include "jss/nats/nats_connection.h"

#include <nats/nats.h>

#include <fstream>
#include <utility>

#include "jss/core/strings.h"
#include "jss/core/status.h"
#include "cnats_options.h"


namespace jss::nats {
namespace {

// cnats' last error text for a connection (never holds secrets: it is the
// server's -ERR line or a local error description).
std::string LastError(natsConnection* conn) {
  if (conn == nullptr) return "";
  const char* text = nullptr;
  const natsStatus s = natsConnection_GetLastError(conn, &text);
  if (s == NATS_OK) return "";
  return text != nullptr && *text ? std::string(text) : std::string(natsStatus_GetText(s));
}

struct OptionsDeleter {
  void operator()(natsOptions* o) const { natsOptions_Destroy(o); }
};
using OptionsPtr = std::unique_ptr<natsOptions, OptionsDeleter>;

double SecondsSince(core::SteadyTime start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

NatsConnection::NatsConnection(NatsConnectionOptions options, core::NatsObserver& observer,
                               std::shared_ptr<logging::Logger> logger)
    : options_(std::move(options)), observer_(observer), logger_(std::move(logger)) {}

core::StatusOr<std::unique_ptr<NatsConnection>> NatsConnection::Open(
    NatsConnectionOptions options, core::NatsObserver& observer,
    std::shared_ptr<logging::Logger> logger) {
  if (options.servers.empty()) {
    return core::InvalidArgumentError(
        core::StrCat("NATS connection \"", options.name, "\" has no server URL"));
  }
  std::unique_ptr<NatsConnection> conn(
      new NatsConnection(std::move(options), observer, std::move(logger)));
  if (core::Status s = conn->Start(); !s.ok()) return s;
  return conn;
}

core::Status NatsConnection::Start() {
  natsOptions* raw = nullptr;
  if (natsStatus s = natsOptions_Create(&raw); s != NATS_OK) {
    return NatsError(s, "creating NATS options");
  }
  OptionsPtr opts(raw);
  std::vector<const char*> servers;
  for (const auto& url : options_.servers) servers.push_back(url.c_str());
  const std::string conn_label = core::StrCat("connection \"", options_.name, "\"");

  natsStatus s = natsOptions_SetServers(opts.get(), servers.data(),
                                        static_cast<int>(servers.size()));
  if (s != NATS_OK) return NatsError(s, core::StrCat(conn_label, ": bad --nats-url"));
  natsOptions_SetName(opts.get(), "jetstream-scaler");
  natsOptions_SetTimeout(opts.get(), options_.connect_timeout.count());
  natsOptions_SetMaxReconnect(opts.get(), -1);  // never give up: KEDA keeps asking
  natsOptions_SetReconnectWait(opts.get(), options_.reconnect_wait.count());
  natsOptions_SetReconnectJitter(opts.get(), 100, 1000);
  natsOptions_SetPingInterval(opts.get(), 10000);
  natsOptions_SetMaxPingsOut(opts.get(), 2);
  natsOptions_SetNoEcho(opts.get(), true);
  // Each request is one small frame that someone is waiting for: write it
  // now instead of waiting for the flusher thread (~1 ms per read otherwise).
  natsOptions_SetSendAsap(opts.get(), true);
  // Wake-up subscriptions (one per idle watched consumer) share a small pool
  // of delivery threads instead of a thread each.
  natsOptions_UseGlobalMessageDelivery(opts.get(), true);
  natsOptions_SetDisconnectedCB(opts.get(), &NatsConnection::OnDisconnected, this);
  natsOptions_SetReconnectedCB(opts.get(), &NatsConnection::OnReconnected, this);
  natsOptions_SetClosedCB(opts.get(), &NatsConnection::OnClosed, this);
  // Start even if NATS is down: the scaler reports UNAVAILABLE (never 0)
  // until it connects, and /readyz tells Kubernetes.
  natsOptions_SetRetryOnFailedConnect(opts.get(), true, &NatsConnection::OnConnected, this);

  if (core::Status st = ApplyAuth(opts.get(), options_.auth, conn_label); !st.ok()) return st;

  char* inbox = nullptr;
  if (s = natsInbox_Create(&inbox); s != NATS_OK) return NatsError(s, "creating inbox");
  inbox_prefix_ = core::StrCat(inbox, ".");
  natsInbox_Destroy(inbox);

  timer_ = std::thread([this] { TimerLoop(); });

  s = natsConnection_Connect(&conn_, opts.get());
  if (s == NATS_OK) {
    connected_ = true;
    observer_.OnConnectionState(options_.name, true);
    logger_->Info("connected to NATS", {{"connection", options_.name}});
  } else if (s == NATS_NOT_YET_CONNECTED) {
    observer_.OnConnectionState(options_.name, false);
    logger_->Warn("NATS not reachable yet; retrying in the background",
                  {{"connection", options_.name},
                   {"servers", core::StrJoin(options_.servers, ",")}});
  } else {
    Shutdown();
    return NatsError(s, core::StrCat(conn_label, ": connecting"));
  }

  const std::string wildcard = core::StrCat(inbox_prefix_, "*");
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
    return NatsError(s, core::StrCat(conn_label, ": subscribing to reply inbox",
                                     cause.empty() ? "" : core::StrCat(" (NATS: ", cause, ")")));
  }
  // Replies are small; a generous pending limit avoids dropping replies in a
  // burst (a dropped reply would only cost a timeout, never a wrong value).
  natsSubscription_SetPendingLimits(inbox_sub_, 1 << 20, 256 << 20);
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
  cv_.notify_all();
  if (timer_.joinable()) timer_.join();
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

namespace {

// Owns the callback; freed by cnats' on-complete callback, after which no
// message callback can run, so unsubscribing never races a delivery.
struct SubscriptionClosure {
  std::function<void()> on_message;
};

void OnSubscriptionMessage(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  natsMsg_Destroy(msg);
  static_cast<SubscriptionClosure*>(closure)->on_message();
}

void OnSubscriptionComplete(void* closure) { delete static_cast<SubscriptionClosure*>(closure); }

class SubscriptionImpl final : public NatsConnection::Subscription {
 public:
  explicit SubscriptionImpl(natsSubscription* sub) : sub_(sub) {}
  ~SubscriptionImpl() override {
    natsSubscription_Unsubscribe(sub_);
    natsSubscription_Destroy(sub_);
  }

 private:
  natsSubscription* sub_;
};

}  // namespace

core::StatusOr<std::unique_ptr<NatsConnection::Subscription>> NatsConnection::Subscribe(
    const std::string& subject, std::function<void()> on_message, int max_messages) {
  auto* closure = new SubscriptionClosure{std::move(on_message)};
  natsSubscription* sub = nullptr;
  natsStatus s =
      natsConnection_Subscribe(&sub, conn_, subject.c_str(), &OnSubscriptionMessage, closure);
  if (s != NATS_OK) {
    delete closure;
    return core::UnavailableError(
        core::StrCat("subscribing to \"", subject, "\": ", natsStatus_GetText(s)));
  }
  natsSubscription_SetOnCompleteCB(sub, &OnSubscriptionComplete, closure);
  // After the completion callback is set (cnats may drop the subscription as
  // soon as this returns).
  if (max_messages > 0) natsSubscription_AutoUnsubscribe(sub, max_messages);
  return std::unique_ptr<Subscription>(new SubscriptionImpl(sub));
}

void NatsConnection::Request(const std::string& subject, core::SteadyTime deadline,
                             ReplyCallback done) {
  const auto now = std::chrono::steady_clock::now();
  if (!connected_.load() || conn_ == nullptr) {
    observer_.OnRequestDone(options_.name, "disconnected", 0);
    done(core::UnavailableError(core::StrCat(
        "NATS connection \"", options_.name, "\" is not connected (",
        core::StrJoin(options_.servers, ","), "); ",
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
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      done(core::UnavailableError("the scaler is shutting down"));
      return;
    }
    if (pending_.size() >= options_.max_in_flight) {
      observer_.OnRequestDone(options_.name, "overloaded", 0);
      done(core::ResourceExhaustedError(core::StrCat(
          "too many JetStream API requests in flight on connection \"", options_.name,
          "\" (limit ", options_.max_in_flight, "); retry later")));
      return;
    }
    const bool earliest = deadlines_.empty() || deadline < deadlines_.top().first;
    pending_.emplace(id, Pending{std::move(done), now});
    deadlines_.emplace(deadline, id);
    if (earliest) cv_.notify_all();
  }
  observer_.OnRequestSent(options_.name);
  const std::string reply = core::StrCat(inbox_prefix_, id);
  natsStatus s = natsConnection_PublishRequest(conn_, subject.c_str(), reply.c_str(), nullptr, 0);
  if (s != NATS_OK) {
    Pending pending;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = pending_.find(id);
      if (it == pending_.end()) return;  // already failed by timer/disconnect
      pending = std::move(it->second);
      pending_.erase(it);
    }
    Finish(std::move(pending),
           core::UnavailableError(core::StrCat("publishing to NATS failed: ",
                                               natsStatus_GetText(s))),
           "disconnected");
  }
}

void NatsConnection::Finish(Pending pending, const core::StatusOr<std::string>& result,
                            std::string_view reason) {
  observer_.OnRequestDone(options_.name, reason, SecondsSince(pending.sent_at));
  pending.done(result);
}

void NatsConnection::OnReply(natsMsg* msg) {
  const char* subject = natsMsg_GetSubject(msg);
  std::string_view sv(subject ? subject : "");
  uint64_t id = 0;
  if (sv.size() <= inbox_prefix_.size() ||
      !core::ParseUint64(sv.substr(inbox_prefix_.size()), &id)) {
    return;
  }
  Pending pending;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = pending_.find(id);
    if (it == pending_.end()) return;  // late reply after its deadline
    pending = std::move(it->second);
    pending_.erase(it);
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
  Finish(std::move(pending), std::string(data ? data : "", data ? static_cast<size_t>(len) : 0),
         "ok");
}

void NatsConnection::TimerLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    if (deadlines_.empty()) {
      cv_.wait(lock);
      continue;
    }
    const auto next = deadlines_.top().first;
    if (std::chrono::steady_clock::now() < next) {
      cv_.wait_until(lock, next);
      continue;
    }
    std::vector<Pending> expired;
    const auto now = std::chrono::steady_clock::now();
    while (!deadlines_.empty() && deadlines_.top().first <= now) {
      auto it = pending_.find(deadlines_.top().second);
      deadlines_.pop();
      if (it != pending_.end()) {
        expired.push_back(std::move(it->second));
        pending_.erase(it);
      }
    }
    lock.unlock();
    for (auto& p : expired) {
      Finish(std::move(p),
             core::UnavailableError(core::StrCat("NATS did not answer within the request "
                                                 "deadline (connection \"",
                                                 options_.name, "\")")),
             "timeout");
    }
    lock.lock();
  }
}

void NatsConnection::FailAll(const core::Status& status, std::string_view reason) {
  std::unordered_map<uint64_t, Pending> failed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    failed.swap(pending_);
    deadlines_ = {};
  }
  for (auto& [id, p] : failed) Finish(std::move(p), status, reason);
}

void NatsConnection::OnMessage(natsConnection*, natsSubscription*, natsMsg* msg, void* self) {
  static_cast<NatsConnection*>(self)->OnReply(msg);
  natsMsg_Destroy(msg);
}

void NatsConnection::OnConnected(natsConnection*, void* self) {
  auto* c = static_cast<NatsConnection*>(self);
  c->connected_ = true;
  c->observer_.OnConnectionState(c->options_.name, true);
  c->logger_->Info("connected to NATS", {{"connection", c->options_.name}});
}

void NatsConnection::OnDisconnected(natsConnection* nc, void* self) {
  auto* c = static_cast<NatsConnection*>(self);
  c->connected_ = false;
  c->observer_.OnConnectionState(c->options_.name, false);
  // Replies to requests already sent cannot arrive on a dead socket: fail them
  // now instead of at their deadline.
  c->FailAll(core::UnavailableError(core::StrCat("NATS connection \"", c->options_.name,
                                                 "\" was lost; reconnecting")),
             "disconnected");
  if (c->stopping_requested_.load()) return;  // our own Close(), not an outage
  c->logger_->Warn("disconnected from NATS; reconnecting",
                   {{"connection", c->options_.name}, {"last_error", LastError(nc)}});
}

void NatsConnection::OnReconnected(natsConnection*, void* self) {
  auto* c = static_cast<NatsConnection*>(self);
  c->connected_ = true;
  c->observer_.OnConnectionState(c->options_.name, true);
  c->observer_.OnReconnect(c->options_.name);
  c->logger_->Info("reconnected to NATS", {{"connection", c->options_.name}});
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
