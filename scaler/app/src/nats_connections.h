#pragma once

// Private to jss_app: the NATS half of ParseConfig. --nats-url entries become
// connections, --nats-account declares their accounts, and the per-connection
// auth flags (secret files read through Environment) become Config::nats_auth.

#include <string>
#include <string_view>
#include <vector>

#include "flags.h"
#include "jss/app/config.h"
#include "jss/core/base/status.h"
#include "jss/core/policy/connection_selector.h"

namespace jss::app::detail {

// One --nats-url [NAME=]URL[,URL...] entry, added to `out` (unnamed entries
// all join the "default" connection).
core::Status AddNatsUrl(std::string_view entry, std::vector<core::ConnectionConfig>& out);

// --nats-account CONNECTION=ACCOUNT[,ACCOUNT...] into ConnectionConfig::accounts. An account
// belongs to one connection only, so `account` in a trigger never selects ambiguously.
core::Status ResolveAccounts(const std::vector<std::string>& entries,
                             std::vector<core::ConnectionConfig>& connections);

// One server in two connections is two users of one NATS system, which only
// makes sense when each declares the account it acts in (--nats-account):
// otherwise `natsUrl` selects whichever is listed first and the two differ in
// nothing a trigger can name. Runs after ResolveAccounts.
core::Status CheckSharedServers(const std::vector<core::ConnectionConfig>& connections);

// Turns the raw per-connection values into Config::nats_auth: every
// connection starts from the plain values, then takes its own.
core::Status ResolveAuth(const Flags& flags, const Environment& env, Config& config);

}  // namespace jss::app::detail
