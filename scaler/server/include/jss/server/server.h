#pragma once

#include <memory>
#include <string>

#include "jss/app/config.h"
#include "jss/core/base/status.h"
#include "jss/logging/logger.h"

namespace jss::server {

// The running scaler: NATS connections, lag pipeline, gRPC and HTTP servers.
// Built by Start(), torn down (gracefully) by Stop() or the destructor.
class Server {
 public:
  static core::StatusOr<std::unique_ptr<Server>> Start(const app::Config& config,
                                                       std::shared_ptr<logging::Logger> logger);
  virtual ~Server() = default;
  virtual int grpc_port() const = 0;
  virtual int metrics_port() const = 0;
  // Stops accepting, lets in-flight RPCs finish (bounded), closes NATS.
  virtual void Stop() = 0;
};

}  // namespace jss::server
