#include "jss/nats/jetstream/nats_wakeup_source.h"

#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include "jss/core/base/strings.h"
#include "jss/core/lag/consumer_info_decoder.h"

namespace jss::nats {
namespace {

using Subscriptions = std::vector<std::unique_ptr<NatsConnection::Subscription>>;

}  // namespace

// Shared between the handle, the asynchronous set-up and the subscriptions'
// message callbacks, any of which may outlive the others.
struct NatsWakeupSource::WatchState : std::enable_shared_from_this<WatchState> {
  WatchState(NatsConnection* c, core::PushObserver* o, core::WakeupSource::Callbacks cb,
             core::ConsumerKey k)
      : conn(c), observer(o), callbacks(std::move(cb)), key(std::move(k)) {}

  // Subscribes to every subject, one message each. With mu held: the SUBs
  // are only queued for the connection's I/O thread (a stalled peer cannot
  // block the caller, which may hold the hub's lock); a SUB cnats fails to
  // write later ends the watch like a denial (OnFailed).
  bool SubscribeAllLocked(const logging::Logger& logger) {
    std::weak_ptr<WatchState> weak = weak_from_this();
    for (const auto& subject : subjects) {
      auto sub = conn->Subscribe(
          subject,
          [weak] {
            if (auto self = weak.lock()) self->OnMessage();
          },
          /*max_messages=*/1,
          [weak](const core::Status&) {
            if (auto self = weak.lock()) self->OnFailed();
          });
      if (!sub.ok()) {
        logger.Debug("push wake-up unavailable; polling instead",
                     {{"stream", key.stream}, {"consumer", key.consumer},
                      {"error", sub.status().message()}});
        return false;
      }
      subs.push_back(std::move(*sub));
      if (observer != nullptr) observer->OnWakeupSubscriptions(1);
    }
    return true;
  }

  // With mu held; the caller destroys them after unlocking.
  Subscriptions TakeSubsLocked() {
    Subscriptions old;
    old.swap(subs);
    if (!old.empty() && observer != nullptr) {
      observer->OnWakeupSubscriptions(-static_cast<int>(old.size()));
    }
    return old;
  }

  void OnMessage() {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!armed || cancelled) return;  // one wake-up per arming
      armed = false;
    }
    callbacks.on_activity();
  }

  // NATS refused a subscription of ours: stop listening and tell the watcher
  // (once per set-up; it polls, and sets the watch up again later).
  void OnDenied(const std::string& subject) {
    if (!Lose()) return;
    if (observer != nullptr) observer->OnWakeupDenied(key, subject);
    callbacks.on_lost();
  }

  // cnats could not write a queued SUB (e.g. the connection closed for
  // good): like a denial, without the denial's count.
  void OnFailed() {
    if (Lose()) callbacks.on_lost();
  }

  // Stops listening; false if the watch was cancelled or lost already.
  bool Lose() {
    Subscriptions old;  // declared first: destroyed after the lock is released
    std::lock_guard<std::mutex> lock(mu);
    if (cancelled || lost) return false;
    lost = true;
    armed = false;
    old = TakeSubsLocked();
    return true;
  }

  NatsConnection* const conn;
  core::PushObserver* const observer;
  const core::WakeupSource::Callbacks callbacks;
  const core::ConsumerKey key;
  std::mutex mu;
  bool cancelled = false;
  bool armed = false;
  bool lost = false;
  std::vector<std::string> subjects;
  Subscriptions subs;
};

// Live watches by subject, so that a refusal NATS reports for a subject (it
// names no subscription) reaches the watches that subscribed to it.
class NatsWakeupSource::Registry {
 public:
  void Add(const std::vector<std::string>& subjects, const std::shared_ptr<WatchState>& state) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& subject : subjects) by_subject_.emplace(subject, state);
  }
  void Remove(const std::vector<std::string>& subjects, const WatchState* state) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& subject : subjects) {
      auto [begin, end] = by_subject_.equal_range(subject);
      for (auto it = begin; it != end;) {
        auto live = it->second.lock();
        it = (live == nullptr || live.get() == state) ? by_subject_.erase(it) : std::next(it);
      }
    }
  }
  std::vector<std::shared_ptr<WatchState>> Find(const NatsConnection* conn,
                                                const std::string& subject) {
    std::vector<std::shared_ptr<WatchState>> found;
    std::lock_guard<std::mutex> lock(mu_);
    auto [begin, end] = by_subject_.equal_range(subject);
    for (auto it = begin; it != end; ++it) {
      if (auto live = it->second.lock(); live != nullptr && live->conn == conn) {
        found.push_back(std::move(live));
      }
    }
    return found;
  }

 private:
  std::mutex mu_;
  std::unordered_multimap<std::string, std::weak_ptr<WatchState>> by_subject_;
};

namespace {

using WatchState = NatsWakeupSource::WatchState;

class WatchHandle final : public core::WakeupSource::Handle {
 public:
  WatchHandle(std::shared_ptr<WatchState> state, std::shared_ptr<logging::Logger> logger,
              std::shared_ptr<NatsWakeupSource::Registry> registry)
      : state_(std::move(state)), logger_(std::move(logger)), registry_(std::move(registry)) {}
  ~WatchHandle() override {
    Subscriptions old;
    std::vector<std::string> subjects;
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      state_->cancelled = true;
      state_->armed = false;
      old = state_->TakeSubsLocked();
      subjects = state_->subjects;
    }
    registry_->Remove(subjects, state_.get());
  }

  bool Rearm() override {
    Subscriptions old;
    Subscriptions partial;  // destroyed, like `old`, after the lock is released
    std::lock_guard<std::mutex> lock(state_->mu);
    if (state_->cancelled || state_->lost || state_->subjects.empty()) return false;
    old = state_->TakeSubsLocked();
    state_->armed = state_->SubscribeAllLocked(*logger_);
    if (!state_->armed) partial = state_->TakeSubsLocked();
    return state_->armed;
  }

  void Disarm() override {
    Subscriptions old;
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->armed = false;
    old = state_->TakeSubsLocked();
  }

 private:
  std::shared_ptr<WatchState> state_;
  std::shared_ptr<logging::Logger> logger_;
  std::shared_ptr<NatsWakeupSource::Registry> registry_;
};

}  // namespace

NatsWakeupSource::NatsWakeupSource(const JetStreamConnections& connections,
                                   std::chrono::milliseconds request_timeout,
                                   std::shared_ptr<logging::Logger> logger,
                                   core::PushObserver* observer, core::Pacer* pacer,
                                   size_t max_subjects)
    : connections_(connections),
      request_timeout_(request_timeout),
      max_subjects_(max_subjects),
      logger_(std::move(logger)),
      observer_(observer),
      pacer_(pacer),
      registry_(std::make_shared<Registry>()) {
  for (const auto& [name, endpoint] : connections_.All()) {
    NatsConnection* conn = endpoint.connection;
    if (conn == nullptr) continue;
    auto registry = registry_;
    conn->SetEvents({[this, name = name] { OnReconnected(name); },
                     [registry, conn](const std::string& subject) {
                       for (auto& state : registry->Find(conn, subject)) state->OnDenied(subject);
                     }});
  }
}

NatsWakeupSource::~NatsWakeupSource() {
  for (const auto& [name, endpoint] : connections_.All()) {
    if (endpoint.connection != nullptr) endpoint.connection->SetEvents({});
  }
}

void NatsWakeupSource::SetResyncHandler(ResyncHandler handler) {
  std::lock_guard<std::mutex> lock(resync_mu_);
  resync_ = std::move(handler);
}

void NatsWakeupSource::OnReconnected(const std::string& connection) {
  // Held while the handler runs, so SetResyncHandler(nullptr) (the hub going
  // away) waits for it. The hub only queues reads here.
  std::lock_guard<std::mutex> lock(resync_mu_);
  if (resync_) resync_(connection);
}

std::unique_ptr<core::WakeupSource::Handle> NatsWakeupSource::Watch(const core::ConsumerKey& key,
                                                                    Callbacks callbacks) {
  const JetStreamEndpoint* endpoint = connections_.Find(key.connection);
  NatsConnection* conn = endpoint == nullptr ? nullptr : endpoint->connection;
  auto state = std::make_shared<WatchState>(conn, observer_, std::move(callbacks), key);
  auto handle = std::make_unique<WatchHandle>(state, logger_, registry_);
  if (conn == nullptr) {
    state->callbacks.on_ready(false);
    return handle;
  }
  auto logger = logger_;
  const auto timeout = request_timeout_;
  core::Pacer* pacer = pacer_;
  // Runs `request` now or when the pacer allows.
  auto paced = [pacer](std::function<void()> request) {
    if (pacer == nullptr) {
      request();
    } else {
      pacer->Submit(false, std::move(request));
    }
  };
  // Subscribes once the subjects are known; tells the watcher either way.
  auto arm = [state, logger, registry = registry_, max_subjects = max_subjects_](
                 const core::StatusOr<std::vector<std::string>>& subjects) {
    bool live = false;
    {
      std::lock_guard<std::mutex> lock(state->mu);
      if (state->cancelled) return;
      if (subjects.ok() && subjects->size() > max_subjects) {
        // Every re-arm re-subscribes every subject: a stream of thousands of
        // subjects would cost thousands of SUBs per wake-up. Polled instead
        // (counted in the polling-fallback gauge).
        logger->Debug("push wake-up over --push-max-wakeup-subjects; polling instead",
                      {{"stream", state->key.stream},
                       {"consumer", state->key.consumer},
                       {"subjects", fmt::format("{}", subjects->size())},
                       {"limit", fmt::format("{}", max_subjects)}});
      } else if (subjects.ok() && !subjects->empty()) {
        state->subjects = *subjects;
        // Before subscribing: NATS may refuse the subscription right away.
        registry->Add(state->subjects, state);
        live = state->armed = state->SubscribeAllLocked(*logger);
      }
    }
    state->callbacks.on_ready(live);
  };
  const std::string consumer_info =
      endpoint->api.ConsumerInfo(key.stream, key.consumer);
  const std::string stream_info = endpoint->api.StreamInfo(key.stream);
  paced([conn, state, key, arm, paced, timeout, consumer_info, stream_info] {
    conn->Request(
        consumer_info, std::chrono::steady_clock::now() + timeout,
        [conn, state, key, arm, paced, timeout,
         stream_info](const core::StatusOr<std::string>& reply) {
          if (!reply.ok()) return arm(reply.status());
          auto filters = core::DecodeConsumerFilterSubjects(*reply, key.stream, key.consumer);
          if (!filters.ok() || !filters->empty()) return arm(filters);
          paced([conn, state, key, arm, timeout, stream_info] {
            conn->Request(stream_info, std::chrono::steady_clock::now() + timeout,
                          [key, arm](const core::StatusOr<std::string>& stream_reply) {
                            if (!stream_reply.ok()) return arm(stream_reply.status());
                            arm(core::DecodeStreamSubjects(*stream_reply, key.stream));
                          });
          });
        });
  });
  return handle;
}

}  // namespace jss::nats
