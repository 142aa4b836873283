#pragma once

#include <functional>
#include <memory>
#include <string>

#include "prometheus/registry.h"
#include "jss/core/base/status.h"

struct mg_context;
struct mg_connection;

namespace jss::metrics {

// Serves /metrics (Prometheus text format), /healthz (200 while `alive()`,
// else 503: the process cannot recover by itself and should be restarted) and
// /readyz (200 only while `ready()` is true, else 503) on one address, and
// with a `probe_address` /healthz and /readyz again on a listener of their
// own, whose threads no client of the metrics port can hold up (slow-loris:
// connections that dribble a request keep a worker each until it times out).
class HttpServer {
 public:
  // `address` is host:port; port 0 picks a free port (see port()).
  static core::StatusOr<std::unique_ptr<HttpServer>> Start(
      const std::string& address, std::shared_ptr<prometheus::Registry> registry,
      std::function<bool()> ready, std::function<bool()> alive = [] { return true; },
      const std::string& probe_address = "");
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const { return port_; }
  // 0 without a probe address.
  int probe_port() const { return probe_port_; }

 private:
  HttpServer(std::shared_ptr<prometheus::Registry> registry, std::function<bool()> ready,
             std::function<bool()> alive);
  static int HandleMetrics(::mg_connection* conn, void* self);
  static int HandleHealthz(::mg_connection* conn, void* self);
  static int HandleReadyz(::mg_connection* conn, void* self);

  std::shared_ptr<prometheus::Registry> registry_;
  std::function<bool()> ready_;
  std::function<bool()> alive_;
  mg_context* ctx_ = nullptr;
  mg_context* probe_ctx_ = nullptr;
  int port_ = 0;
  int probe_port_ = 0;
};

}  // namespace jss::metrics
