#include "jss/nats/jetstream_lag_source.h"

#include <fmt/format.h>

#include <utility>

#include "jss/core/consumer_info_decoder.h"
#include "jss/core/status.h"
#include "jss/core/strings.h"

namespace jss::nats {

JetStreamLagSource::JetStreamLagSource(const JetStreamConnections& connections)
    : connections_(connections) {}

void JetStreamLagSource::ReadLag(const core::ConsumerKey& key, core::SteadyTime deadline,
                                 core::LagCallback done) {
  const JetStreamEndpoint* endpoint = connections_.Find(key.connection);
  if (endpoint == nullptr) {
    done(core::InternalError(fmt::format("no NATS connection named \"{}\"", key.connection)));
    return;
  }
  endpoint->connection->Request(endpoint->api.ConsumerInfo(key.stream, key.consumer), deadline,
                      [key, done = std::move(done)](const core::StatusOr<std::string>& reply) {
                        if (!reply.ok()) {
                          done(reply.status());
                          return;
                        }
                        done(core::DecodeConsumerInfoResponse(*reply, key.stream,
                                                              key.consumer));
                      });
}

}  // namespace jss::nats
