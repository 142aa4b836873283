#pragma once

#include <memory>
#include <string>

#include "jss/core/lag_source.h"
#include "jss/core/observer.h"
#include "jss/nats/jetstream_api.h"

namespace jss::nats {

// Reads consumer lag with the JetStream API (CONSUMER.INFO.<s>.<c> in the
// connection's domain), answered by the consumer's leader, over the named
// connection.
class JetStreamLagSource final : public core::LagSource {
 public:
  // The connections must outlive this object.
  explicit JetStreamLagSource(const JetStreamConnections& connections);

  void ReadLag(const core::ConsumerKey& key, core::SteadyTime deadline,
               core::LagCallback done) override;

 private:
  const JetStreamConnections& connections_;
};

}  // namespace jss::nats
