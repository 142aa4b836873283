#include "jss/app/config.h"

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "jss/core/duration.h"
#include "jss/core/strings.h"
#include "jss/core/status.h"

namespace jss::app {
namespace {

struct Flag {
  const char* name;  // without leading "--"
  bool takes_value;
  bool repeatable;
  const char* value_name;
  const char* default_text;
  const char* help;
};

// The one table behind parsing, environment variables and --help.
const std::vector<Flag>& Flags() {
  static const std::vector<Flag> kFlags = {
      {"grpc-address", true, false, "HOST:PORT", "0.0.0.0:6000",
       "where KEDA reaches the ExternalScaler gRPC service (port 0 = pick one)"},
      {"metrics-address", true, false, "HOST:PORT", "0.0.0.0:8080",
       "serves /metrics, /healthz and /readyz"},
      {"nats-url", true, true, "[NAME=]URL[,URL...]", "nats://127.0.0.1:4222",
       "NATS server(s). Repeat for more. NAME=URL makes a named connection that trigger "
       "metadata `account` selects; unnamed URLs form the default connection. In the "
       "environment variable, separate entries with spaces"},
      // NATS authentication and TLS. Each takes an optional NAME= prefix that
      // sets it for that named connection only; without one it applies to
      // every connection that has no value of its own.
      {"nats-creds", true, true, "[NAME=]FILE", "", "NATS credentials file (JWT + nkey seed)"},
      {"nats-nkey", true, true, "[NAME=]PUBLIC_KEY", "",
       "NATS nkey user (public key, U...); the seed comes from --nats-nkey-seed-file"},
      {"nats-nkey-seed-file", true, true, "[NAME=]FILE", "", "file holding the nkey seed (SU...)"},
      {"nats-token-file", true, true, "[NAME=]FILE", "",
       "file holding the NATS token (or set JETSTREAM_SCALER_NATS_TOKEN)"},
      {"nats-user", true, true, "[NAME=]USER", "", "NATS user name"},
      {"nats-password-file", true, true, "[NAME=]FILE", "",
       "file holding the NATS password (or set JETSTREAM_SCALER_NATS_PASSWORD)"},
      {"nats-tls-ca", true, true, "[NAME=]FILE", "", "CA bundle to verify the NATS server"},
      {"nats-tls-cert", true, true, "[NAME=]FILE", "", "client certificate for NATS mTLS"},
      {"nats-tls-key", true, true, "[NAME=]FILE", "", "client key for NATS mTLS"},
      {"grpc-tls-cert", true, false, "FILE", "", "serve gRPC over TLS with this certificate"},
      {"grpc-tls-key", true, false, "FILE", "", "private key for --grpc-tls-cert"},
      {"grpc-tls-client-ca", true, false, "FILE", "",
       "require client certificates signed by this CA (mTLS; KEDA's tlsClientCert)"},
      {"policy-file", true, false, "FILE", "",
       "JSON access policy: which Kubernetes namespaces may read which consumers (default: "
       "all may; see docs/security.md)"},
      {"reload-interval", true, false, "DURATION", "10s",
       "how often --policy-file and the gRPC TLS files are checked for changes (1s-1h)"},
      {"request-timeout", true, false, "DURATION", "2s",
       "upper bound for one NATS read; KEDA's own deadline shortens it"},
      {"lag-cache-ttl", true, false, "DURATION", "1s",
       "reuse a consumer's lag for this long across callers (0 disables reuse)"},
      {"push-interval", true, false, "DURATION", "250ms",
       "StreamIsActive (external-push): how often a watched consumer is re-read when the "
       "trigger sets no pushInterval (100ms-1h)"},
      {"push-wakeup", true, false, "true|false", "true",
       "StreamIsActive: while a watched consumer is idle, subscribe to its subjects so the "
       "first publish is pushed at once (needs subscribe permission; polling remains)"},
      {"max-inflight-requests", true, false, "N", "4096",
       "JetStream API requests in flight per connection before new ones are refused"},
      {"log-level", true, false, "LEVEL", "info", "trace, debug, info, warn or error"},
      {"log-format", true, false, "FORMAT", "text", "text or json"},
      {"print-metadata-keys", false, false, "", "",
       "print the trigger metadata keys this scaler reads, one per line, and exit"},
      {"help", false, false, "", "", "show this help and exit"},
      {"version", false, false, "", "", "print the version and exit"},
  };
  return kFlags;
}

const Flag* FindFlag(std::string_view name) {
  for (const Flag& f : Flags()) {
    if (name == f.name) return &f;
  }
  return nullptr;
}

core::Status Bad(std::string_view flag, std::string_view why) {
  return core::InvalidArgumentError(core::StrCat("--", flag, ": ", why));
}

bool ValidUrlScheme(std::string_view url) {
  for (std::string_view scheme : {"nats://", "tls://"}) {
    if (url.substr(0, scheme.size()) == scheme && url.size() > scheme.size()) return true;
  }
  return false;
}

bool ValidConnectionName(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  return true;
}

core::Status AddNatsUrl(std::string_view entry, std::vector<core::ConnectionConfig>& out) {
  std::string name = "default";
  bool named = false;
  std::string_view urls = entry;
  const size_t eq = entry.find('=');
  const size_t scheme = entry.find("://");
  if (eq != std::string_view::npos && (scheme == std::string_view::npos || eq < scheme)) {
    name = std::string(entry.substr(0, eq));
    urls = entry.substr(eq + 1);
    named = true;
    if (!ValidConnectionName(name)) {
      return Bad("nats-url", core::StrCat("connection name \"", name,
                                          "\" must be 1-63 letters, digits, '-' or '_'"));
    }
  }
  std::vector<std::string> servers;
  for (std::string_view url : core::SplitNonEmpty(urls, ',')) {
    url = core::TrimWhitespace(url);
    if (!ValidUrlScheme(url)) {
      return Bad("nats-url", core::StrCat("\"", url,
                                          "\" is not a NATS URL (expected nats://HOST:PORT "
                                          "or tls://HOST:PORT)"));
    }
    // user:password@ or token@ in a URL would sit in the process list, the
    // pod spec and every log line that names the server.
    const std::string_view rest = url.substr(url.find("://") + 3);
    if (rest.substr(0, rest.find('/')).find('@') != std::string_view::npos) {
      return Bad("nats-url",
                 "credentials inside the URL are not accepted (they would show in the process "
                 "list and logs); use --nats-creds, --nats-token-file or --nats-user with "
                 "--nats-password-file");
    }
    servers.emplace_back(url);
  }
  if (servers.empty()) return Bad("nats-url", "empty URL");
  for (auto& existing : out) {
    if (existing.name == name) {
      if (named || existing.named) {
        return Bad("nats-url", core::StrCat("connection \"", name,
                                            "\" is given twice; list its servers in one "
                                            "entry separated by commas"));
      }
      existing.servers.insert(existing.servers.end(), servers.begin(), servers.end());
      return core::OkStatus();
    }
  }
  out.push_back(core::ConnectionConfig{name, std::move(servers), named});
  return core::OkStatus();
}

core::StatusOr<std::chrono::milliseconds> ParseDurationFlag(std::string_view flag,
                                                            std::string_view value,
                                                            std::chrono::milliseconds min,
                                                            std::chrono::milliseconds max) {
  auto parsed = core::ParseDuration(value);
  if (!parsed.ok()) return Bad(flag, parsed.status().message());
  if (*parsed < min || *parsed > max) {
    return Bad(flag, core::StrCat("\"", value, "\" must be between ", core::FormatDuration(min),
                                  " and ", core::FormatDuration(max)));
  }
  return *parsed;
}

std::string TrimSecret(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

}  // namespace

std::string EnvVarFor(const std::string& flag) {
  std::string out = "JETSTREAM_SCALER_";
  for (char c : flag) out += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

Environment Environment::Process() {
  Environment env;
  env.get_env = [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
  env.read_file = [](const std::string& path) -> core::StatusOr<std::string> {
    std::ifstream in(path, std::ios::binary);
    if (!in) return core::InvalidArgumentError(core::StrCat("cannot read file \"", path, "\""));
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  return env;
}

constexpr const char* kNatsAuthFlags[] = {
    "nats-creds",    "nats-nkey",   "nats-nkey-seed-file", "nats-token-file", "nats-user",
    "nats-password-file", "nats-tls-ca", "nats-tls-cert",       "nats-tls-key"};

// Reads a secret file named by `flag`; the content is trimmed and must not be empty.
core::StatusOr<std::string> ReadSecretFile(const Environment& env, const char* flag,
                                           const std::string& path) {
  auto content = env.read_file(path);
  if (!content.ok()) return Bad(flag, content.status().message());
  std::string secret = TrimSecret(*content);
  if (secret.empty()) return Bad(flag, core::StrCat("the file \"", path, "\" is empty"));
  return secret;
}

// The NatsAuth member a non-secret auth flag sets; nullptr for the secret
// files (--nats-token-file, --nats-password-file), which are read instead.
std::string* AuthField(NatsAuth& a, std::string_view flag) {
  if (flag == "nats-creds") return &a.creds_file;
  if (flag == "nats-nkey") return &a.nkey;
  if (flag == "nats-nkey-seed-file") return &a.nkey_seed_file;
  if (flag == "nats-user") return &a.user;
  if (flag == "nats-tls-ca") return &a.tls_ca_file;
  if (flag == "nats-tls-cert") return &a.tls_cert_file;
  if (flag == "nats-tls-key") return &a.tls_key_file;
  return nullptr;
}

// Pairs that only make sense together, checked per connection.
core::Status ValidateAuth(const NatsAuth& a, const std::string& connection) {
  const std::string where =
      connection == "default" ? std::string() : core::StrCat(" (connection \"", connection, "\")");
  if (!a.password.empty() && a.user.empty()) {
    return Bad("nats-user", core::StrCat("a NATS password was given without --nats-user", where));
  }
  if (a.tls_cert_file.empty() != a.tls_key_file.empty()) {
    return Bad("nats-tls-cert", core::StrCat("--nats-tls-cert and --nats-tls-key go together", where));
  }
  if (a.nkey.empty() != a.nkey_seed_file.empty()) {
    return Bad("nats-nkey",
               core::StrCat("--nats-nkey and --nats-nkey-seed-file go together", where));
  }
  return core::OkStatus();
}

core::StatusOr<Config> ParseConfig(const std::vector<std::string>& args, const Environment& env) {
  // Collect raw values: environment first, then the command line replaces.
  std::map<std::string, std::vector<std::string>> values;
  std::set<std::string> switches;
  for (const Flag& f : Flags()) {
    if (!f.takes_value) continue;
    if (auto v = env.get_env(EnvVarFor(f.name)); v.has_value()) {
      if (f.repeatable) {
        for (std::string_view part : core::SplitNonEmpty(*v, ' ')) {
          values[f.name].emplace_back(part);
        }
      } else {
        values[f.name] = {*v};
      }
    }
  }
  std::set<std::string> from_cli;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg.substr(0, 2) != "--") {
      return core::InvalidArgumentError(
          core::StrCat("unexpected argument \"", arg, "\"; flags start with -- (see --help)"));
    }
    arg.remove_prefix(2);
    std::optional<std::string> inline_value;
    if (size_t eq = arg.find('='); eq != std::string_view::npos) {
      inline_value = std::string(arg.substr(eq + 1));
      arg = arg.substr(0, eq);
    }
    if (arg == "nats-token" || arg == "nats-password") {
      return Bad(arg, core::StrCat("secrets are not accepted on the command line (they would "
                                   "show in the process list); use --",
                                   arg, "-file FILE or the ", EnvVarFor(std::string(arg)),
                                   " environment variable"));
    }
    const Flag* flag = FindFlag(arg);
    if (flag == nullptr) {
      return core::InvalidArgumentError(core::StrCat("unknown flag --", arg, " (see --help)"));
    }
    if (!flag->takes_value) {
      if (inline_value.has_value()) return Bad(arg, "takes no value");
      switches.insert(flag->name);
      continue;
    }
    std::string value;
    if (inline_value.has_value()) {
      value = *inline_value;
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return Bad(arg, core::StrCat("needs a value (", flag->value_name, ")"));
    }
    if (!from_cli.count(flag->name)) {
      values[flag->name].clear();  // the command line replaces the environment
      from_cli.insert(flag->name);
    } else if (!flag->repeatable) {
      return Bad(arg, "given more than once");
    }
    values[flag->name].push_back(std::move(value));
  }

  Config config;
  if (switches.count("help")) {
    config.action = Action::kHelp;
    return config;
  }
  if (switches.count("version")) {
    config.action = Action::kVersion;
    return config;
  }
  if (switches.count("print-metadata-keys")) {
    config.action = Action::kPrintMetadataKeys;
    return config;
  }

  std::vector<std::string> urls = values["nats-url"];
  if (urls.empty()) urls.push_back("nats://127.0.0.1:4222");
  for (const auto& entry : urls) {
    if (core::Status s = AddNatsUrl(entry, config.connections); !s.ok()) return s;
  }
  // Split NAME=VALUE (a named connection's own setting) from plain values
  // (everyone's default). Only a configured connection name counts as a
  // prefix, so a path that happens to contain '=' stays a path.
  std::set<std::string> named;
  for (const auto& c : config.connections) {
    if (c.named) named.insert(c.name);
  }
  std::map<std::string, std::map<std::string, std::string>> per_connection;
  for (const char* flag : kNatsAuthFlags) {
    std::vector<std::string> plain;
    for (const auto& v : values[flag]) {
      const size_t eq = v.find('=');
      if (eq != std::string::npos && named.count(v.substr(0, eq))) {
        auto& slot = per_connection[v.substr(0, eq)][flag];
        if (!slot.empty()) {
          return Bad(flag, core::StrCat("given more than once for connection \"",
                                        v.substr(0, eq), "\""));
        }
        slot = v.substr(eq + 1);
        if (slot.empty()) return Bad(flag, core::StrCat("\"", v, "\" has an empty value"));
      } else {
        plain.push_back(v);
      }
    }
    if (plain.size() > 1) {
      return Bad(flag, "given more than once; prefix NAME= to set it for a named connection");
    }
    values[flag] = plain;
  }

  auto single = [&values](const char* name) -> std::optional<std::string> {
    auto it = values.find(name);
    if (it == values.end() || it->second.empty()) return std::nullopt;
    return it->second.back();
  };
  auto non_empty = [&](const char* name, std::string* out) -> core::Status {
    if (auto v = single(name)) {
      if (v->empty()) return Bad(name, "must not be empty");
      *out = *v;
    }
    return core::OkStatus();
  };

  for (const char* flag : kNatsAuthFlags) {
    if (std::string* target = AuthField(config.nats_default_auth, flag)) {
      if (core::Status s = non_empty(flag, target); !s.ok()) return s;
    }
  }
  for (const char* name : {"grpc-address", "metrics-address", "grpc-tls-cert", "grpc-tls-key",
                           "grpc-tls-client-ca", "log-level", "log-format", "policy-file"}) {
    std::string* target = nullptr;
    const std::string_view n = name;
    if (n == "grpc-address") target = &config.grpc_address;
    if (n == "metrics-address") target = &config.metrics_address;
    if (n == "grpc-tls-cert") target = &config.grpc_tls_cert_file;
    if (n == "grpc-tls-key") target = &config.grpc_tls_key_file;
    if (n == "grpc-tls-client-ca") target = &config.grpc_tls_client_ca_file;
    if (n == "log-level") target = &config.log_level;
    if (n == "log-format") target = &config.log_format;
    if (n == "policy-file") target = &config.policy_file;
    if (core::Status s = non_empty(name, target); !s.ok()) return s;
  }
  for (const auto& [flag, address] :
       {std::pair<const char*, const std::string*>{"grpc-address", &config.grpc_address},
        {"metrics-address", &config.metrics_address}}) {
    const size_t colon = address->rfind(':');
    uint64_t port = 0;
    if (colon == std::string::npos || colon == 0 ||
        !core::ParseUint64(std::string_view(*address).substr(colon + 1), &port) || port > 65535) {
      return Bad(flag, core::StrCat("\"", *address, "\" is not HOST:PORT (e.g. 0.0.0.0:6000)"));
    }
  }
  if (config.log_level != "trace" && config.log_level != "debug" && config.log_level != "info" &&
      config.log_level != "warn" && config.log_level != "error") {
    return Bad("log-level", core::StrCat("\"", config.log_level,
                                         "\" is not one of trace, debug, info, warn, error"));
  }
  if (config.log_format != "text" && config.log_format != "json") {
    return Bad("log-format", core::StrCat("\"", config.log_format, "\" is not text or json"));
  }

  if (auto v = single("request-timeout")) {
    auto d = ParseDurationFlag("request-timeout", *v, std::chrono::milliseconds(10),
                               std::chrono::minutes(5));
    if (!d.ok()) return d.status();
    config.request_timeout = *d;
  }
  if (auto v = single("lag-cache-ttl")) {
    auto d = ParseDurationFlag("lag-cache-ttl", *v, std::chrono::milliseconds(0),
                               std::chrono::minutes(10));
    if (!d.ok()) return d.status();
    config.lag_cache_ttl = *d;
  }
  if (auto v = single("reload-interval")) {
    auto d = ParseDurationFlag("reload-interval", *v, std::chrono::seconds(1),
                               std::chrono::hours(1));
    if (!d.ok()) return d.status();
    config.reload_interval = *d;
  }
  if (auto v = single("push-interval")) {
    auto d = ParseDurationFlag("push-interval", *v, std::chrono::milliseconds(100),
                               std::chrono::hours(1));
    if (!d.ok()) return d.status();
    config.push_interval = *d;
  }
  if (auto v = single("push-wakeup")) {
    if (*v != "true" && *v != "false") {
      return Bad("push-wakeup", core::StrCat("\"", *v, "\" is not true or false"));
    }
    config.push_wakeup = *v == "true";
  }
  if (auto v = single("max-inflight-requests")) {
    uint64_t n = 0;
    if (!core::ParseUint64(*v, &n) || n < 1 || n > 1000000) {
      return Bad("max-inflight-requests",
                 core::StrCat("\"", *v, "\" must be a whole number from 1 to 1000000"));
    }
    config.max_in_flight = n;
  }

  // Secrets: from files or the environment, never from argv.
  if (auto file = single("nats-token-file")) {
    auto token = ReadSecretFile(env, "nats-token-file", *file);
    if (!token.ok()) return token.status();
    config.nats_default_auth.token = *token;
  } else if (auto v = env.get_env(EnvVarFor("nats-token")); v.has_value() && !v->empty()) {
    config.nats_default_auth.token = *v;
  }
  if (auto file = single("nats-password-file")) {
    auto content = env.read_file(*file);
    if (!content.ok()) return Bad("nats-password-file", content.status().message());
    config.nats_default_auth.password = TrimSecret(*content);
  } else if (auto v = env.get_env(EnvVarFor("nats-password")); v.has_value()) {
    config.nats_default_auth.password = *v;
  }
  // Every connection starts from the plain values, then takes its own.
  for (const auto& c : config.connections) {
    NatsAuth a = config.nats_default_auth;
    auto own = per_connection.find(c.name);
    if (own != per_connection.end()) {
      for (const auto& [flag, value] : own->second) {
        if (std::string* target = AuthField(a, flag)) {
          *target = value;
          continue;
        }
        auto secret = ReadSecretFile(env, flag.c_str(), value);
        if (!secret.ok()) return secret.status();
        (flag == "nats-token-file" ? a.token : a.password) = *secret;
      }
    }
    if (core::Status s = ValidateAuth(a, c.name); !s.ok()) return s;
    config.nats_auth[c.name] = std::move(a);
  }
  if (config.grpc_tls_cert_file.empty() != config.grpc_tls_key_file.empty()) {
    return Bad("grpc-tls-cert", "--grpc-tls-cert and --grpc-tls-key go together");
  }
  if (!config.grpc_tls_client_ca_file.empty() && config.grpc_tls_cert_file.empty()) {
    return Bad("grpc-tls-client-ca", "client certificates need TLS: set --grpc-tls-cert/-key");
  }
  return config;
}

std::string HelpText() {
  std::string out =
      "jetstream-scaler: a KEDA external scaler that reports NATS JetStream consumer lag,\n"
      "read with the JetStream API.\n\n"
      "Usage: jetstream-scaler [flags]\n\n"
      "Every flag can also be set with the environment variable shown; a flag on the\n"
      "command line wins.\n\nFlags:\n";
  for (const Flag& f : Flags()) {
    std::string lhs = core::StrCat("  --", f.name);
    if (f.takes_value) lhs += core::StrCat(" ", f.value_name);
    out += core::StrCat(lhs, "\n      ", f.help);
    if (*f.default_text) out += core::StrCat(" (default ", f.default_text, ")");
    if (f.takes_value) out += core::StrCat("\n      env: ", EnvVarFor(f.name));
    out += core::StrCat("\n");
  }
  out += core::StrCat(
                  "\nSecrets: JETSTREAM_SCALER_NATS_TOKEN and JETSTREAM_SCALER_NATS_PASSWORD "
                  "are read from the\nenvironment only; they are never logged.\n");
  return out;
}

const char* BuildVersion() { return JSS_VERSION; }
const char* BuildRevision() { return JSS_REVISION; }

std::string VersionText() {
  return core::StrCat("jetstream-scaler ", JSS_VERSION, " (", JSS_REVISION, ")");
}

}  // namespace jss::app
