#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "jss/core/base/status.h"
#include "jss/core/policy/connection_selector.h"
#include "jss/core/policy/nats_auth.h"
#include "jss/core/trigger/defaults.h"

namespace jss::app {

using core::NatsAuth;

inline constexpr char kDefaultNatsUrl[] = "nats://127.0.0.1:4222";

enum class Action { kRun, kHelp, kVersion, kPrintMetadataKeys };

// Everything main needs, after flags and environment are merged and checked.
// Secret members (NatsAuth token, password) are never printed. The member
// initialisers are the flags' defaults (--help prints them from here).
struct Config {
  Action action = Action::kRun;
  std::string grpc_address = "0.0.0.0:6000";
  std::string metrics_address = "0.0.0.0:8080";
  // Without --nats-url: one unnamed connection to kDefaultNatsUrl.
  std::vector<core::ConnectionConfig> connections;
  // Plain (unprefixed) NATS auth flags: the default for every connection.
  NatsAuth nats_default_auth;
  // Resolved per connection name (defaults + NAME= values); what the server uses.
  std::map<std::string, NatsAuth> nats_auth;
  std::string grpc_tls_cert_file;
  std::string grpc_tls_key_file;
  std::string grpc_tls_client_ca_file;
  // With a client CA: the client certificate names (CN, DNS or URI SAN) allowed.
  std::vector<std::string> grpc_tls_client_names;
  // KEDA's one connection per scalerAddress is recycled (GOAWAY) at about
  // this age, so it re-resolves and moves off a replica that lost NATS; open
  // streams end with OK first. Zero: never.
  std::chrono::milliseconds grpc_max_connection_age{std::chrono::minutes(5)};
  // Server pings an idle connection this often to notice half-open ones. Zero: off.
  std::chrono::milliseconds grpc_keepalive_time{std::chrono::seconds(60)};
  // NATS unusable this long: let every gRPC connection go (GOAWAY) so KEDA re-resolves to a
  // healthy replica; repeated at most this often while it stays down. 0 = never.
  std::chrono::milliseconds grpc_goaway_after_nats_down{std::chrono::seconds(30)};
  // After SIGTERM/SIGINT the process exits within this long, drained or not (a peer that
  // never reads, a hung file system): the chart's 30 s grace period is never reached.
  std::chrono::milliseconds shutdown_timeout{std::chrono::seconds(15)};
  // /readyz and gRPC health: "any" = ready while at least one NATS connection is usable,
  // "all" = only while every one is.
  std::string ready_when = "any";
  std::string policy_file;
  std::chrono::milliseconds reload_interval{10000};
  std::chrono::milliseconds request_timeout = core::kDefaultRequestTimeout;
  std::chrono::milliseconds nats_ping_interval = core::kDefaultNatsPingInterval;
  std::chrono::milliseconds lag_cache_ttl{1000};
  std::chrono::milliseconds push_interval = core::kDefaultPushInterval;
  bool push_wakeup = true;
  // StreamIsActive: re-read of an idle watched consumer whose wake-up is live.
  std::chrono::milliseconds push_idle_resync{30000};
  // StreamIsActive: JetStream API requests per second for push watchers
  // (first reads, re-reads, wake-up set-ups); 0 = unlimited.
  size_t push_read_rate = 2000;
  // StreamIsActive: a consumer with more subjects than this is polled, not woken.
  size_t push_max_wakeup_subjects = core::kDefaultPushMaxWakeupSubjects;
  size_t max_in_flight = core::kDefaultMaxInFlight;
  // Bounds against hostile tenants and callers (docs/security.md).
  std::string probe_address;  // empty: /healthz and /readyz only on metrics_address
  size_t metrics_max_series = 10000;
  size_t max_streams = core::kDefaultMaxStreams;
  size_t max_streams_per_connection = core::kDefaultMaxStreams;
  std::chrono::milliseconds min_push_interval = core::kPushIntervalRange.min;
  std::string log_level = "info";
  std::string log_format = "text";
};

struct Environment {
  // Returns the variable's value, or nullopt when unset.
  std::function<std::optional<std::string>(const std::string&)> get_env;
  // Returns a file's content, or an error naming the file.
  std::function<core::StatusOr<std::string>(const std::string&)> read_file;

  static Environment Process();
};

// Parses argv (without argv[0]) with JETSTREAM_SCALER_* variables as
// defaults. Errors are INVALID_ARGUMENT naming the flag and the fix.
core::StatusOr<Config> ParseConfig(const std::vector<std::string>& args, const Environment& env);

std::string HelpText();
std::string VersionText();
const char* BuildVersion();
const char* BuildRevision();
// Environment variable that sets a flag: --nats-url -> JETSTREAM_SCALER_NATS_URL.
std::string EnvVarFor(const std::string& flag);

}  // namespace jss::app
