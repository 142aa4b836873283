#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "jss/core/base/status.h"

namespace jss::testing {

// grpc.health.v1 ServingStatus values (wire numbers).
enum class HealthStatus { kUnknown = 0, kServing = 1, kNotServing = 2, kServiceUnknown = 3 };

// Calls grpc.health.v1.Health/Check on `channel` for `service` ("" is the
// whole server), the way a kubelet gRPC probe or grpc-health-probe does.
// Messages are encoded by hand: the health proto is not installed with gRPC.
core::StatusOr<HealthStatus> CheckHealth(const std::shared_ptr<grpc::Channel>& channel,
                                         const std::string& service);

// Lists the services the server's reflection service reports (what
// `grpcurl list` prints).
core::StatusOr<std::vector<std::string>> ListServicesByReflection(
    const std::shared_ptr<grpc::Channel>& channel);

}  // namespace jss::testing
