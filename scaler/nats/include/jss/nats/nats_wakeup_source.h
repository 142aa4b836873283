#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "jss/core/activity_hub.h"
#include "jss/logging/logger.h"
#include "jss/nats/nats_connection.h"

namespace jss::nats {

// Event-driven wake-up for idle watched consumers: subscribes (core NATS) to
// the consumer's filter subject(s), or to its stream's subjects when it has no
// filter, so the first publish triggers an immediate lag read. Needs
// subscribe permission on those subjects; without it (or on any error) it
// stays silent and the watcher's polling carries on.
class NatsWakeupSource final : public core::WakeupSource {
 public:
  NatsWakeupSource(std::map<std::string, NatsConnection*> connections,
                   std::chrono::milliseconds request_timeout,
                   std::shared_ptr<logging::Logger> logger, core::ActivityObserver* observer,
                   std::string api_prefix = "$JS.API");

  std::unique_ptr<Handle> Watch(const core::ConsumerKey& key,
                                std::function<void()> on_activity) override;

 private:
  std::map<std::string, NatsConnection*> connections_;
  std::chrono::milliseconds request_timeout_;
  std::shared_ptr<logging::Logger> logger_;
  core::ActivityObserver* observer_;  // may be null
  std::string api_prefix_;
};

}  // namespace jss::nats
