#pragma once
// The gRPC server's transport: TLS/mTLS credentials from the config, and the
// connection arguments (keepalive, connection age) every server gets.

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/server_credentials.h>

#include <memory>

#include "jss/app/config.h"
#include "jss/core/base/status.h"

namespace jss::server {

// Insecure, TLS or mTLS (with --grpc-tls-client-name checked at the handshake).
core::StatusOr<std::shared_ptr<grpc::ServerCredentials>> GrpcCredentials(const app::Config& c);

// Keepalive and connection-age arguments for `builder`.
void SetConnectionArgs(const app::Config& c, grpc::ServerBuilder& builder);

}  // namespace jss::server
