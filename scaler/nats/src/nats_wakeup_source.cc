#include "jss/nats/nats_wakeup_source.h"

#include <mutex>
#include <vector>

#include "jss/core/consumer_info_decoder.h"
#include "jss/core/strings.h"

namespace jss::nats {
namespace {

// Shared between the handle and the asynchronous set-up, which may finish
// after the handle is gone.
struct WatchState {
  explicit WatchState(core::ActivityObserver* o) : observer(o) {}
  core::ActivityObserver* observer;
  std::mutex mu;
  bool cancelled = false;
  std::vector<std::unique_ptr<NatsConnection::Subscription>> subscriptions;
};

class WatchHandle final : public core::WakeupSource::Handle {
 public:
  explicit WatchHandle(std::shared_ptr<WatchState> state) : state_(std::move(state)) {}
  ~WatchHandle() override {
    std::vector<std::unique_ptr<NatsConnection::Subscription>> subs;
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      state_->cancelled = true;
      subs.swap(state_->subscriptions);
    }
    if (!subs.empty() && state_->observer != nullptr) {
      state_->observer->OnWakeupSubscriptions(-static_cast<int>(subs.size()));
    }
  }

 private:
  std::shared_ptr<WatchState> state_;
};

void SubscribeAll(NatsConnection* conn, const std::shared_ptr<WatchState>& state,
                  const std::vector<std::string>& subjects,
                  const std::function<void()>& on_activity, const logging::Logger& logger,
                  const core::ConsumerKey& key) {
  std::lock_guard<std::mutex> lock(state->mu);
  if (state->cancelled) return;
  for (const auto& subject : subjects) {
    auto sub = conn->Subscribe(subject, on_activity);
    if (!sub.ok()) {
      logger.Debug("push wake-up unavailable; polling only",
                   {{"stream", key.stream}, {"consumer", key.consumer},
                    {"error", sub.status().message()}});
      return;
    }
    state->subscriptions.push_back(std::move(*sub));
    if (state->observer != nullptr) state->observer->OnWakeupSubscriptions(1);
  }
}

}  // namespace

NatsWakeupSource::NatsWakeupSource(std::map<std::string, NatsConnection*> connections,
                                   std::chrono::milliseconds request_timeout,
                                   std::shared_ptr<logging::Logger> logger,
                                   core::ActivityObserver* observer, std::string api_prefix)
    : connections_(std::move(connections)),
      request_timeout_(request_timeout),
      logger_(std::move(logger)),
      observer_(observer),
      api_prefix_(std::move(api_prefix)) {}

std::unique_ptr<core::WakeupSource::Handle> NatsWakeupSource::Watch(
    const core::ConsumerKey& key, std::function<void()> on_activity) {
  auto state = std::make_shared<WatchState>(observer_);
  auto it = connections_.find(key.connection);
  if (it == connections_.end()) return std::make_unique<WatchHandle>(state);
  NatsConnection* conn = it->second;
  auto logger = logger_;
  const auto deadline = std::chrono::steady_clock::now() + request_timeout_;
  const std::string stream_info = core::StrCat(api_prefix_, ".STREAM.INFO.", key.stream);
  conn->Request(
      core::StrCat(api_prefix_, ".CONSUMER.INFO.", key.stream, ".", key.consumer), deadline,
      [conn, state, key, on_activity, logger, deadline,
       stream_info](const core::StatusOr<std::string>& reply) {
        if (!reply.ok()) return;  // polling covers it
        auto filters = core::DecodeConsumerFilterSubjects(*reply, key.stream, key.consumer);
        if (!filters.ok()) return;
        if (!filters->empty()) {
          SubscribeAll(conn, state, *filters, on_activity, *logger, key);
          return;
        }
        conn->Request(stream_info, deadline,
                      [conn, state, key, on_activity,
                       logger](const core::StatusOr<std::string>& stream_reply) {
                        if (!stream_reply.ok()) return;
                        auto subjects = core::DecodeStreamSubjects(*stream_reply, key.stream);
                        if (!subjects.ok()) return;
                        SubscribeAll(conn, state, *subjects, on_activity, *logger, key);
                      });
      });
  return std::make_unique<WatchHandle>(state);
}

}  // namespace jss::nats
