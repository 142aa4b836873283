#include "jss/app/config.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <utility>

#include "flags.h"
#include "jss/core/base/status.h"
#include "nats_connections.h"

namespace jss::app {

// ParseConfig puts the parts together: the flags and --help (flags.h), then
// the NATS connections and their auth (nats_connections.h).
using detail::AddNatsUrl;
using detail::Bad;
using detail::CheckLeftovers;
using detail::CheckSharedServers;
using detail::DefineFlags;
using detail::Flags;
using detail::NewApp;
using detail::Parsed;
using detail::ResolveAccounts;
using detail::ResolveAuth;
using detail::Reword;

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
    if (!in) return core::InvalidArgumentError(fmt::format("cannot read file \"{}\"", path));
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  return env;
}

core::StatusOr<Config> ParseConfig(const std::vector<std::string>& args, const Environment& env) {
  auto app = NewApp();
  Parsed parsed;
  Flags flags(*app);
  DefineFlags(flags, parsed);
  try {
    app->parse(std::vector<std::string>(args.rbegin(), args.rend()));  // CLI11 pops from the back
    if (core::Status s = CheckLeftovers(app->remaining()); !s.ok()) return s;
    if (core::Status s = flags.CheckNoSecretsOnCommandLine(); !s.ok()) return s;
    if (parsed.config.action != Action::kRun) return parsed.config;
    if (core::Status s = flags.ApplyEnvironment(env); !s.ok()) return s;
  } catch (const CLI::ParseError& e) {
    return core::InvalidArgumentError(Reword(e, *app));
  }

  Config& config = parsed.config;
  for (const auto& entry : parsed.nats_urls) {
    if (core::Status s = AddNatsUrl(entry, config.connections); !s.ok()) return s;
  }
  if (core::Status s = ResolveAccounts(parsed.nats_accounts, config.connections); !s.ok()) {
    return s;
  }
  if (core::Status s = CheckSharedServers(config.connections); !s.ok()) return s;
  if (core::Status s = ResolveAuth(flags, env, config); !s.ok()) return s;
  if (config.grpc_tls_cert_file.empty() != config.grpc_tls_key_file.empty()) {
    return Bad("grpc-tls-cert", "--grpc-tls-cert and --grpc-tls-key go together");
  }
  if (!config.grpc_tls_client_ca_file.empty() && config.grpc_tls_cert_file.empty()) {
    return Bad("grpc-tls-client-ca", "client certificates need TLS: set --grpc-tls-cert/-key");
  }
  if (!config.grpc_tls_client_names.empty() && config.grpc_tls_client_ca_file.empty()) {
    return Bad("grpc-tls-client-name",
               "--grpc-tls-client-name checks client certificates: set --grpc-tls-client-ca");
  }
  return std::move(config);
}

std::string HelpText() {
  auto app = NewApp();
  Parsed parsed;
  Flags flags(*app);
  DefineFlags(flags, parsed);
  return app->help();
}

const char* BuildVersion() { return JSS_VERSION; }
const char* BuildRevision() { return JSS_REVISION; }

std::string VersionText() {
  return fmt::format("jetstream-scaler {} ({})", JSS_VERSION, JSS_REVISION);
}

}  // namespace jss::app
