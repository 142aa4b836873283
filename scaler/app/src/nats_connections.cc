#include "nats_connections.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <string>

#include "jss/core/base/strings.h"

namespace jss::app::detail {
namespace {

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

}  // namespace

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
      return Bad(
          "nats-url",
          fmt::format("connection name \"{}\" must be 1-63 letters, digits, '-' or '_'", name));
    }
  }
  std::vector<std::string> servers;
  for (std::string_view url : core::SplitNonEmpty(urls, ',')) {
    url = core::TrimWhitespace(url);
    // Every message quotes a URL redacted: what a mistyped one carries
    // (user:password@, ?token=) is a secret all the same.
    if (!ValidUrlScheme(url)) {
      return Bad(
          "nats-url",
          fmt::format("\"{}\" is not a NATS URL (expected nats://HOST:PORT or tls://HOST:PORT)",
                      core::RedactUrl(url)));
    }
    // user:password@ or token@ in a URL would sit in the process list, the
    // pod spec and every log line that names the server.
    const std::string_view rest = url.substr(url.find("://") + 3);
    if (rest.substr(0, rest.find_first_of("/?#")).find('@') != std::string_view::npos) {
      return Bad("nats-url",
                 "credentials inside the URL are not accepted (they would show in the process "
                 "list and logs); use --nats-creds, --nats-token-file or --nats-user with "
                 "--nats-password-file");
    }
    // A NATS URL has no options: a query (?token=...) is not read by cnats,
    // only repeated by its errors, and may hold a secret like userinfo.
    if (rest.find_first_of("?#") != std::string_view::npos) {
      return Bad("nats-url",
                 fmt::format("\"{}\": a query or fragment (?... or #...) in a NATS URL is not "
                             "accepted (NATS URLs take no options, and one may hold a secret); "
                             "give NATS credentials with --nats-creds, --nats-token-file or "
                             "--nats-user with --nats-password-file",
                             core::RedactUrl(url)));
    }
    servers.emplace_back(url);
  }
  if (servers.empty()) return Bad("nats-url", "empty URL");
  for (auto& existing : out) {
    if (existing.name == name) {
      if (named || existing.named) {
        return Bad("nats-url", fmt::format("connection \"{}\" is given twice; list its servers in "
                                           "one entry separated by commas",
                                           name));
      }
      existing.servers.insert(existing.servers.end(), servers.begin(), servers.end());
      return core::OkStatus();
    }
  }
  out.push_back(core::ConnectionConfig{name, std::move(servers), named});
  return core::OkStatus();
}
namespace {

// "NATS token" for --nats-token-file: what a secret file flag holds, in words.
std::string SecretWhat(std::string_view file_flag) {
  std::string secret = SecretFlagFor(file_flag);  // nats-token
  return fmt::format("NATS {}", secret.substr(secret.find('-') + 1));
}

std::string TrimSecret(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

// Reads a secret file named by `flag`; the content is trimmed and must not be empty.
core::StatusOr<std::string> ReadSecretFile(const Environment& env, const std::string& flag,
                                           const std::string& path) {
  auto content = env.read_file(path);
  if (!content.ok()) return Bad(flag, content.status().message());
  std::string secret = TrimSecret(*content);
  if (secret.empty()) return Bad(flag, fmt::format("the file \"{}\" is empty", path));
  return secret;
}

// A per-connection flag's value for NatsAuth: the secret read from the file
// it names, or the value itself.
core::StatusOr<std::string> AuthValue(const PerConnectionFlag& flag, const Environment& env,
                                      const std::string& value) {
  if (flag.secret_file) return ReadSecretFile(env, flag.name, value);
  return value;
}

// A NATS account name as --nats-account takes it: one token, bounded.
bool ValidAccountName(std::string_view account) {
  if (account.empty() || account.size() > 255) return false;
  for (char ch : account) {
    const auto uc = static_cast<unsigned char>(ch);
    if (uc <= ' ' || uc == 0x7f || ch == ',' || ch == '=') return false;
  }
  return true;
}
}  // namespace

// --nats-account CONNECTION=ACCOUNT[,ACCOUNT...] into ConnectionConfig::accounts. An account
// belongs to one connection only, so `account` in a trigger never selects ambiguously.
core::Status ResolveAccounts(const std::vector<std::string>& entries,
                             std::vector<core::ConnectionConfig>& connections) {
  std::map<std::string, std::string> owner;  // account -> connection
  for (const std::string& entry : entries) {
    const size_t eq = entry.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Bad("nats-account",
                 fmt::format("\"{}\" is not CONNECTION=ACCOUNT[,ACCOUNT...] (the unnamed "
                             "connection is \"default\")", entry));
    }
    const std::string name(core::TrimWhitespace(std::string_view(entry).substr(0, eq)));
    auto connection = std::find_if(connections.begin(), connections.end(),
                                   [&](const core::ConnectionConfig& c) { return c.name == name; });
    if (connection == connections.end() && name == "default") {
      return Bad("nats-account", "there is no unnamed connection to declare accounts for (every "
                                 "--nats-url is NAME=URL); use one of their names");
    }
    if (connection == connections.end()) {
      return Bad("nats-account",
                 fmt::format("no connection named \"{}\" (add --nats-url {}=URL, or use "
                             "\"default\" for the unnamed connection)", name, name));
    }
    if (!connection->accounts.empty()) {
      return Bad("nats-account", fmt::format("given more than once for connection \"{}\"; "
                                             "list its accounts in one entry, comma-separated",
                                             name));
    }
    for (std::string_view raw : core::SplitNonEmpty(std::string_view(entry).substr(eq + 1), ',')) {
      const std::string_view account = core::TrimWhitespace(raw);
      if (account.empty()) continue;
      if (!ValidAccountName(account)) {
        return Bad("nats-account",
                   fmt::format("\"{}\" is not an account name (1-255 characters, no spaces, "
                               "',', '=' or control characters)", core::Truncate(account)));
      }
      auto [it, inserted] = owner.emplace(std::string(account), name);
      if (!inserted) {
        return Bad("nats-account",
                   fmt::format("account \"{}\" is declared for connections \"{}\" and "
                               "\"{}\"; an account must select exactly one connection",
                               account, it->second, name));
      }
      connection->accounts.emplace_back(account);
    }
    if (connection->accounts.empty()) {
      return Bad("nats-account", fmt::format("\"{}\" names no account", entry));
    }
  }
  return core::OkStatus();
}

// One server in two connections is two users of one NATS system, which only
// makes sense when each declares the account it acts in (--nats-account):
// otherwise `natsUrl` selects whichever is listed first and the two differ in
// nothing a trigger can name. Runs after ResolveAccounts.
core::Status CheckSharedServers(const std::vector<core::ConnectionConfig>& connections) {
  for (size_t i = 0; i < connections.size(); ++i) {
    for (size_t j = i + 1; j < connections.size(); ++j) {
      const auto& a = connections[i];
      const auto& b = connections[j];
      if (!a.accounts.empty() && !b.accounts.empty()) continue;
      for (const auto& server : a.servers) {
        const bool shared = std::any_of(b.servers.begin(), b.servers.end(), [&](const auto& s) {
          return core::NormalizeNatsUrl(s) == core::NormalizeNatsUrl(server);
        });
        if (!shared) continue;
        return Bad("nats-url",
                   fmt::format("\"{}\" is in connections \"{}\" and \"{}\"; list a NATS "
                               "server in one connection only, or, for two users of one server, "
                               "declare each connection's account (--nats-account {}=ACCOUNT "
                               "--nats-account {}=ACCOUNT)",
                               core::RedactUrl(server), a.name, b.name, a.name, b.name));
      }
    }
  }
  return core::OkStatus();
}
namespace {

// Pairs that only make sense together, checked per connection.
core::Status ValidateAuth(const NatsAuth& a, const std::string& connection) {
  const std::string where =
      connection == "default" ? std::string() : fmt::format(" (connection \"{}\")", connection);
  if (!a.password.empty() && a.user.empty()) {
    return Bad("nats-user", fmt::format("a NATS password was given without --nats-user{}", where));
  }
  if (a.tls_cert_file.empty() != a.tls_key_file.empty()) {
    return Bad("nats-tls-cert",
               fmt::format("--nats-tls-cert and --nats-tls-key go together{}", where));
  }
  // A seed is a secret: refused where the public key belongs, and not echoed.
  if (!a.nkey.empty() && a.nkey[0] == 'S') {
    return Bad(
        "nats-nkey",
        fmt::format("--nats-nkey takes the nkey's public key (U...), not its seed (S...){}; put "
                    "the seed in a file for --nats-nkey-seed-file and treat the seed as leaked",
                    where));
  }
  if (a.nkey.empty() != a.nkey_seed_file.empty()) {
    return Bad("nats-nkey",
               fmt::format("--nats-nkey and --nats-nkey-seed-file go together{}", where));
  }
  // A JetStream domain is one subject token of $JS.<domain>.API.
  bool domain_ok = a.js_domain.size() <= 64;
  for (char ch : a.js_domain) {
    domain_ok = domain_ok && ch != '.' && ch != '*' && ch != '>' &&
                static_cast<unsigned char>(ch) > ' ' && ch != 0x7f;
  }
  if (!domain_ok) {
    return Bad("nats-js-domain", fmt::format("\"{}\" is not a JetStream domain (1-64 characters, "
                                             "no '.', '*', '>', spaces or control characters){}",
                                             a.js_domain, where));
  }
  return core::OkStatus();
}

// Applies one per-connection flag: its plain value to `defaults`, its
// NAME=VALUE entries to `own` (only a configured connection name counts as a
// prefix, so a path that happens to contain '=' stays a path).
core::Status ResolvePerConnection(const PerConnectionFlag& flag, const Environment& env,
                                  const std::set<std::string>& named, NatsAuth& defaults,
                                  std::map<std::string, NatsAuth>& own,
                                  std::map<std::string, std::set<std::string>>& own_set) {
  std::vector<std::string> plain;
  for (const auto& v : flag.values) {
    const size_t eq = v.find('=');
    if (eq == std::string::npos || !named.count(v.substr(0, eq))) {
      plain.push_back(v);
      continue;
    }
    const std::string connection = v.substr(0, eq);
    if (!own_set[connection].insert(flag.name).second) {
      return Bad(flag.name, fmt::format("given more than once for connection \"{}\"", connection));
    }
    if (eq + 1 == v.size()) return Bad(flag.name, fmt::format("\"{}\" has an empty value", v));
    auto value = AuthValue(flag, env, v.substr(eq + 1));
    if (!value.ok()) return value.status();
    own[connection].*flag.field = *value;
  }
  if (plain.size() > 1) {
    return Bad(flag.name, "given more than once; prefix NAME= to set it for a named connection");
  }
  if (plain.size() == 1) {
    if (plain[0].empty()) return Bad(flag.name, "must not be empty");
    if (flag.secret_file) {
      // Two sources for one secret: which one wins would be a guess.
      const std::string var = EnvVarFor(SecretFlagFor(flag.name));
      if (auto v = env.get_env(var); v.has_value() && !v->empty()) {
        return Bad(flag.name,
                   fmt::format("--{} (or {}) and {} both give the {}; keep one", flag.name,
                               EnvVarFor(flag.name), var, SecretWhat(flag.name)));
      }
    }
    auto value = AuthValue(flag, env, plain[0]);
    if (!value.ok()) return value.status();
    defaults.*flag.field = *value;
  } else if (flag.secret_file) {
    // The unprefixed secret may come straight from the environment.
    const std::string var = EnvVarFor(SecretFlagFor(flag.name));
    if (auto v = env.get_env(var); v.has_value() && !v->empty()) defaults.*flag.field = *v;
  }
  return core::OkStatus();
}
}  // namespace

// Turns the raw per-connection values into Config::nats_auth: every
// connection starts from the plain values, then takes its own.
core::Status ResolveAuth(const Flags& flags, const Environment& env, Config& config) {
  std::set<std::string> named;
  for (const auto& c : config.connections) {
    if (c.named) named.insert(c.name);
  }
  std::map<std::string, NatsAuth> own;
  std::map<std::string, std::set<std::string>> own_set;  // which flags each connection set
  for (const auto& flag : flags.per_connection()) {
    if (core::Status s = ResolvePerConnection(*flag, env, named, config.nats_default_auth, own,
                                              own_set);
        !s.ok()) {
      return s;
    }
  }
  for (const auto& c : config.connections) {
    NatsAuth a = config.nats_default_auth;
    for (const auto& flag : flags.per_connection()) {
      if (own_set[c.name].count(flag->name)) a.*flag->field = own[c.name].*flag->field;
    }
    if (core::Status s = ValidateAuth(a, c.name); !s.ok()) return s;
    config.nats_auth[c.name] = std::move(a);
  }
  return core::OkStatus();
}

}  // namespace jss::app::detail
