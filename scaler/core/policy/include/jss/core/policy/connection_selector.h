#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "jss/core/base/status.h"
#include "jss/core/trigger/metadata.h"

namespace jss::core {

// One NATS connection the operator configured. `servers` is the seed list of
// one cluster (several URLs mean several servers of the same system).
struct ConnectionConfig {
  // A constructor (not an aggregate) so the per-connection settings below can
  // grow without touching every place that lists connections.
  ConnectionConfig() = default;
  ConnectionConfig(std::string name_, std::vector<std::string> servers_, bool named_ = false)
      : name(std::move(name_)), servers(std::move(servers_)), named(named_) {}

  std::string name;  // "default" for the unnamed connection
  std::vector<std::string> servers;
  bool named = false;  // given as NAME=URL
  // NATS accounts this connection's credentials act in (--nats-account). Trigger metadata
  // `account` naming one selects this connection; a connection that declares accounts serves
  // only those. Empty: not declared, `account` is not checked here.
  std::vector<std::string> accounts;
};

// Decides which configured connection a trigger reads through. Metadata can
// only pick among operator-configured connections; it can never introduce an
// address (natsUrl must match one we were started with).
//
// Three keys may select: `connection` (a NAME), `natsUrl` (a configured URL) and `account`
// (the connection declaring that account, else - as before accounts could be declared - the
// connection of that NAME). Every key that selects must select the same connection. With
// named connections, an `account` given alone must select one. Finally, a connection that
// declares accounts refuses any other `account`; one that declares none accepts any (its
// credentials decide the account).
class ConnectionSelector {
 public:
  explicit ConnectionSelector(std::vector<ConnectionConfig> connections);

  // Name of the selected connection, or INVALID_ARGUMENT naming the key.
  core::StatusOr<std::string> Select(const TriggerMetadata& metadata) const;

  const std::vector<ConnectionConfig>& connections() const { return connections_; }

 private:
  const ConnectionConfig* FindByUrl(const std::string& url) const;
  const ConnectionConfig* FindByName(const std::string& name) const;
  const ConnectionConfig* FindByAccount(const std::string& account) const;
  core::StatusOr<const ConnectionConfig*> SelectByAccount(const TriggerMetadata& metadata) const;
  std::string KnownNames() const;

  std::vector<ConnectionConfig> connections_;
  bool has_named_ = false;
};

// Trailing '/' is not significant in a NATS URL; everything else is compared
// exactly.
std::string NormalizeNatsUrl(std::string url);

// `url` as a message may show it: userinfo (user:password@, token@) becomes
// "REDACTED@", a query or fragment "?REDACTED" (either may hold a secret), and
// the rest is escaped and cut short (Preview), so a URL from anyone can be
// quoted in an error or a log line.
std::string RedactUrl(std::string_view url);

}  // namespace jss::core
