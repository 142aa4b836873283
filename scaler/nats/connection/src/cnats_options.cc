#include "cnats_options.h"

#include <fmt/format.h>

#include <fstream>
#include <string>
#include <utility>

#include "jss/core/base/strings.h"

namespace jss::nats {

core::Status NatsError(natsStatus s, std::string_view what) {
  const char* detail = nats_GetLastError(nullptr);
  return core::InvalidArgumentError(fmt::format("{}: {}{}{}{}", what, natsStatus_GetText(s),
                                                detail && *detail ? " (" : "", detail ? detail : "",
                                                detail && *detail ? ")" : ""));
}

core::Status ApplyAuth(natsOptions* opts, const core::NatsAuth& auth,
                       std::string_view connection_label) {
  natsStatus s = NATS_OK;
  // cnats reads these files only while connecting, in the background; check
  // them now so a wrong path stops start-up with the flag named instead of
  // retrying forever.
  for (const auto& [flag, path] :
       {std::pair<const char*, const std::string*>{"--nats-creds", &auth.creds_file},
        {"--nats-nkey-seed-file", &auth.nkey_seed_file},
        {"--nats-tls-ca", &auth.tls_ca_file},
        {"--nats-tls-cert", &auth.tls_cert_file},
        {"--nats-tls-key", &auth.tls_key_file}}) {
    if (path->empty()) continue;
    if (std::ifstream probe(*path); !probe) {
      return core::InvalidArgumentError(
          fmt::format("{}: {} \"{}\" cannot be read", connection_label, flag, *path));
    }
  }
  if (!auth.creds_file.empty()) {
    s = natsOptions_SetUserCredentialsFromFiles(opts, auth.creds_file.c_str(), nullptr);
    if (s != NATS_OK) return NatsError(s, fmt::format("{}: --nats-creds", connection_label));
  }
  if (!auth.nkey.empty()) {
    s = natsOptions_SetNKeyFromSeed(opts, auth.nkey.c_str(), auth.nkey_seed_file.c_str());
    if (s != NATS_OK) return NatsError(s, fmt::format("{}: NATS nkey seed file", connection_label));
  }
  if (!auth.token.empty()) {
    s = natsOptions_SetToken(opts, auth.token.c_str());
    if (s != NATS_OK) return NatsError(s, fmt::format("{}: NATS token", connection_label));
  }
  if (!auth.user.empty()) {
    s = natsOptions_SetUserInfo(opts, auth.user.c_str(), auth.password.c_str());
    if (s != NATS_OK) return NatsError(s, fmt::format("{}: NATS user/password", connection_label));
  }
  if (!auth.tls_ca_file.empty() || !auth.tls_cert_file.empty()) {
    natsOptions_SetSecure(opts, true);
  }
  if (!auth.tls_ca_file.empty()) {
    s = natsOptions_LoadCATrustedCertificates(opts, auth.tls_ca_file.c_str());
    if (s != NATS_OK) return NatsError(s, fmt::format("{}: --nats-tls-ca", connection_label));
  }
  if (!auth.tls_cert_file.empty()) {
    s = natsOptions_LoadCertificatesChain(opts, auth.tls_cert_file.c_str(),
                                          auth.tls_key_file.c_str());
    if (s != NATS_OK) {
      return NatsError(s, fmt::format("{}: --nats-tls-cert/--nats-tls-key", connection_label));
    }
  }
  return core::OkStatus();
}

}  // namespace jss::nats
