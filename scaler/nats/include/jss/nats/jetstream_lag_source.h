#pragma once

#include <map>
#include <memory>
#include <string>

#include "jss/core/lag_source.h"
#include "jss/core/observer.h"
#include "jss/nats/nats_connection.h"

namespace jss::nats {

// Reads consumer lag with the JetStream API ($JS.API.CONSUMER.INFO.<s>.<c>),
// answered by the consumer's leader, over the named connection.
class JetStreamLagSource final : public core::LagSource {
 public:
  // `connections` are borrowed and must outlive this object.
  explicit JetStreamLagSource(std::map<std::string, NatsConnection*> connections,
                              std::string api_prefix = "$JS.API");

  void ReadLag(const core::ConsumerKey& key, core::SteadyTime deadline,
               core::LagCallback done) override;

 private:
  std::map<std::string, NatsConnection*> connections_;
  std::string api_prefix_;
};

}  // namespace jss::nats
