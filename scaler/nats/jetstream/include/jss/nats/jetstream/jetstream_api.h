#pragma once

#include <map>
#include <string>
#include <string_view>

#include "jss/nats/connection/nats_connection.h"

namespace jss::nats {

// Subjects of the JetStream API of one domain: `$JS.API.…` for the domain of
// the server the connection is attached to, `$JS.<domain>.API.…` for a named
// JetStream domain (a hub seen from a leaf node, or the reverse), which the
// servers route there.
class JetStreamApi {
 public:
  // Empty: the connected server's own domain.
  explicit JetStreamApi(std::string_view domain = {});

  const std::string& prefix() const { return prefix_; }
  std::string ConsumerInfo(std::string_view stream, std::string_view consumer) const;
  std::string StreamInfo(std::string_view stream) const;

 private:
  std::string prefix_;
};

// One configured connection and the JetStream API it reads through.
struct JetStreamEndpoint {
  NatsConnection* connection;  // borrowed
  JetStreamApi api;
};

// The scaler's connections by name, each with its JetStream API; shared by
// the lag source and the push wake-up so both address the same domain.
class JetStreamConnections {
 public:
  void Add(const std::string& name, NatsConnection* connection, std::string_view domain = {});
  // nullptr when no connection has that name.
  const JetStreamEndpoint* Find(const std::string& name) const;
  // Every connection, by name.
  const std::map<std::string, JetStreamEndpoint>& All() const { return by_name_; }

 private:
  std::map<std::string, JetStreamEndpoint> by_name_;
};

}  // namespace jss::nats
