#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>

#include "jss/core/lag/lag_source.h"
#include "jss/core/lag/observer.h"
#include "jss/logging/logger.h"
#include "jss/nats/jetstream/jetstream_api.h"

namespace jss::nats {

// Reads consumer lag with the JetStream API (CONSUMER.INFO.<s>.<c> in the
// connection's domain), answered by the consumer's leader, over the named
// connection. A consumer found paused (nats-server 2.11+) is logged once when
// it is first seen paused and once when it is seen resumed; its lag is
// reported as read either way.
class JetStreamLagSource final : public core::LagSource {
 public:
  // Consumers whose pause is remembered for the resume line; beyond this a
  // pause is still reported (value, metric), just not logged.
  static constexpr size_t kMaxPausedTracked = 10000;

  // The connections must outlive this object. `logger` may be null.
  explicit JetStreamLagSource(const JetStreamConnections& connections,
                              std::shared_ptr<logging::Logger> logger = nullptr);

  void ReadLag(const core::ConsumerKey& key, core::SteadyTime deadline,
               core::LagCallback done) override;

 private:
  // Logs a change of `key`'s pause state (from the last read).
  void NotePause(const core::ConsumerKey& key, const core::ConsumerLag& lag);

  const JetStreamConnections& connections_;
  const std::shared_ptr<logging::Logger> logger_;
  std::mutex mu_;
  // Consumers whose last read found them paused.
  std::unordered_set<core::ConsumerKey, core::ConsumerKeyHash> paused_;  // guarded by mu_
};

}  // namespace jss::nats
