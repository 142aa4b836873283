#include "jss/nats/jetstream_lag_source.h"

#include <utility>

#include "jss/core/consumer_info_decoder.h"
#include "jss/core/status.h"
#include "jss/core/strings.h"

namespace jss::nats {

JetStreamLagSource::JetStreamLagSource(std::map<std::string, NatsConnection*> connections,
                                       std::string api_prefix)
    : connections_(std::move(connections)), api_prefix_(std::move(api_prefix)) {}

void JetStreamLagSource::ReadLag(const core::ConsumerKey& key, core::SteadyTime deadline,
                                 core::LagCallback done) {
  auto it = connections_.find(key.connection);
  if (it == connections_.end()) {
    done(core::InternalError(core::StrCat("no NATS connection named \"", key.connection, "\"")));
    return;
  }
  const std::string subject =
      core::StrCat(api_prefix_, ".CONSUMER.INFO.", key.stream, ".", key.consumer);
  it->second->Request(subject, deadline,
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
