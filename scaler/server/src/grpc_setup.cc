#include "grpc_setup.h"

#include <fmt/format.h>
#include <grpc/grpc.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <string>
#include <vector>

#include "policy_file.h"

namespace jss::server {
namespace {

// Added to the connection-age grace: an OK stream end and a last unary call
// get through before the connection is closed.
constexpr std::chrono::seconds kConnectionGraceMargin{5};
constexpr std::chrono::seconds kKeepaliveTimeout{20};
constexpr std::chrono::seconds kMinClientPingInterval{10};

// Accepts a client certificate (already verified against the client CA) only
// when one of its names is on --grpc-tls-client-name: any other holder of a
// certificate from that CA is refused at the handshake.
class ClientNameVerifier final : public grpc::experimental::ExternalCertificateVerifier {
 public:
  explicit ClientNameVerifier(std::vector<std::string> names) : names_(std::move(names)) {}

  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)>, grpc::Status* sync_status) override {
    std::vector<grpc::string_ref> presented = request->dns_names();
    for (const auto& uri : request->uri_names()) presented.push_back(uri);
    presented.push_back(request->common_name());
    for (const auto& name : presented) {
      for (const auto& allowed : names_) {
        if (name == grpc::string_ref(allowed)) {
          *sync_status = grpc::Status::OK;
          return true;
        }
      }
    }
    *sync_status = grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                                "client certificate name is not in --grpc-tls-client-name");
    return true;
  }
  void Cancel(grpc::experimental::TlsCustomVerificationCheckRequest*) override {}

 private:
  const std::vector<std::string> names_;
};

}  // namespace

core::StatusOr<std::shared_ptr<grpc::ServerCredentials>> GrpcCredentials(const app::Config& c) {
  if (c.grpc_tls_cert_file.empty()) return grpc::InsecureServerCredentials();
  // Read once up front so a wrong path fails start-up with the flag named;
  // from then on gRPC re-reads the files every --reload-interval, so a
  // certificate rotated by cert-manager is served to new connections without
  // a restart and without touching established ones.
  for (const auto& [flag, path] : {std::pair<const char*, std::string>{"grpc-tls-cert",
                                                                        c.grpc_tls_cert_file},
                                   {"grpc-tls-key", c.grpc_tls_key_file},
                                   {"grpc-tls-client-ca", c.grpc_tls_client_ca_file}}) {
    if (path.empty()) continue;
    auto content = ReadRegularFile(flag, path);
    if (!content.ok()) return content.status();
    if (content->find("-----BEGIN") == std::string::npos) {
      return core::InvalidArgumentError(fmt::format("--{}: \"{}\" holds no PEM block", flag, path));
    }
  }
  const auto refresh = static_cast<unsigned int>(
      std::max<int64_t>(1, std::chrono::duration_cast<std::chrono::seconds>(c.reload_interval)
                               .count()));
  const bool mtls = !c.grpc_tls_client_ca_file.empty();
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      c.grpc_tls_key_file, c.grpc_tls_cert_file, mtls ? c.grpc_tls_client_ca_file : "",
      refresh);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (mtls && !c.grpc_tls_client_names.empty()) {
    options.set_certificate_verifier(
        grpc::experimental::ExternalCertificateVerifier::Create<ClientNameVerifier>(
            c.grpc_tls_client_names));
  }
  if (mtls) {
    options.watch_root_certs();
    options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  } else {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

// KEDA holds one connection per scalerAddress for ever and sets no keepalive;
// these make the server recycle and probe it instead.
void SetConnectionArgs(const app::Config& c, grpc::ServerBuilder& builder) {
  auto ms = [](std::chrono::milliseconds d) {
    return static_cast<int>(std::min<int64_t>(d.count(), std::numeric_limits<int>::max()));
  };
  if (c.grpc_max_connection_age.count() > 0) {
    // gRPC adds +-10% jitter to the age. Every stream ends with OK within
    // max age of opening (OpenStreams), so a grace of max age (+ time for a
    // unary call in flight) never cuts a stream with an error.
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS, ms(c.grpc_max_connection_age));
    builder.AddChannelArgument(
        GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
        ms(c.grpc_max_connection_age + c.request_timeout + kConnectionGraceMargin));
  }
  if (c.grpc_keepalive_time.count() > 0) {
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, ms(c.grpc_keepalive_time));
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, ms(kKeepaliveTimeout));
    // Ping idle connections too (KEDA's sits idle between polls), and keep
    // pinging without data in between (gRPC stops after 2 by default).
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  }
  // Clients that do configure keepalive (grpc-go needs >= 10 s) are not
  // answered with GOAWAY too_many_pings as under gRPC's 5 min default.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             ms(kMinClientPingInterval));
}

}  // namespace jss::server
