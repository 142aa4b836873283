#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "jss/core/push/pacer.h"
#include "jss/core/push/push_hub.h"
#include "jss/core/trigger/defaults.h"
#include "jss/logging/logger.h"
#include "jss/nats/jetstream/jetstream_api.h"

namespace jss::nats {

// Event-driven wake-up for idle watched consumers: subscribes (core NATS) to
// the consumer's filter subject(s), or to its stream's subjects when it has no
// filter, so the first publish triggers an immediate lag read. Each arming
// takes at most one message per subject (the server drops the interest after
// it), so a busy subject costs one message per re-arm, not one per publish.
// The subjects are looked up once per watch (CONSUMER.INFO, and STREAM.INFO
// for an unfiltered consumer, paced like every push request); re-arming only
// re-subscribes. Needs subscribe permission on those subjects; without it
// (or on any error) the watch reports itself unavailable and the watcher
// polls instead, as it does for a consumer with more than `max_subjects`
// subjects (each re-arm re-subscribes every one of them). SUBs are written by
// the connection's I/O thread, never by the caller of Watch or Rearm.
class NatsWakeupSource final : public core::WakeupSource {
 public:
  // `pacer` may be null (no pacing).
  // The connections must outlive this object.
  NatsWakeupSource(const JetStreamConnections& connections,
                   std::chrono::milliseconds request_timeout,
                   std::shared_ptr<logging::Logger> logger, core::PushObserver* observer,
                   core::Pacer* pacer,
                   size_t max_subjects = core::kDefaultPushMaxWakeupSubjects);

  ~NatsWakeupSource() override;

  std::unique_ptr<Handle> Watch(const core::ConsumerKey& key, Callbacks callbacks) override;
  void SetResyncHandler(ResyncHandler handler) override;

  struct WatchState;  // one watch; shared with cnats callbacks
  class Registry;     // live watches by subject

 private:
  void OnReconnected(const std::string& connection);

  const JetStreamConnections& connections_;
  std::chrono::milliseconds request_timeout_;
  const size_t max_subjects_;
  std::shared_ptr<logging::Logger> logger_;
  core::PushObserver* observer_;  // may be null
  core::Pacer* pacer_;                // may be null
  std::shared_ptr<Registry> registry_;
  std::mutex resync_mu_;
  ResyncHandler resync_;  // guarded by resync_mu_
};

}  // namespace jss::nats
