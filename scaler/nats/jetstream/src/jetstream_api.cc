#include "jss/nats/jetstream/jetstream_api.h"

#include <fmt/format.h>

#include "jss/core/base/strings.h"

namespace jss::nats {

JetStreamApi::JetStreamApi(std::string_view domain)
    : prefix_(domain.empty() ? std::string("$JS.API") : fmt::format("$JS.{}.API", domain)) {}

std::string JetStreamApi::ConsumerInfo(std::string_view stream, std::string_view consumer) const {
  return fmt::format("{}.CONSUMER.INFO.{}.{}", prefix_, stream, consumer);
}

std::string JetStreamApi::StreamInfo(std::string_view stream) const {
  return fmt::format("{}.STREAM.INFO.{}", prefix_, stream);
}

void JetStreamConnections::Add(const std::string& name, NatsConnection* connection,
                               std::string_view domain) {
  by_name_.insert_or_assign(name, JetStreamEndpoint{connection, JetStreamApi(domain)});
}

const JetStreamEndpoint* JetStreamConnections::Find(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &it->second;
}

}  // namespace jss::nats
