#pragma once

#include <grpcpp/support/status.h>

#include <string>

#include "jss/core/base/status.h"

namespace jss::grpc_service {

// A core status as the gRPC status KEDA receives (core::StatusCode uses
// gRPC's code numbers, so the code carries over unchanged).
inline grpc::Status ToGrpc(const core::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

}  // namespace jss::grpc_service
