#pragma once

#include <string>

namespace jss::core {

// How one NATS connection authenticates, and which JetStream domain it reads
// (the per-connection settings that take a NAME= prefix): filled from the
// flags (app) and applied to cnats by the NATS adapter. The secret members are never logged,
// exported as metrics or put in an error message; only the file paths are.
struct NatsAuth {
  std::string creds_file;      // JWT + nkey seed (.creds)
  std::string nkey;            // nkey user public key (not secret)
  std::string nkey_seed_file;  // path; the seed itself is read by cnats
  std::string token;           // secret
  std::string user;
  std::string password;  // secret
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string js_domain;  // "" : the connected server's own JetStream domain
};

}  // namespace jss::core
