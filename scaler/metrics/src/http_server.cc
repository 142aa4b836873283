#include "jss/metrics/http_server.h"

#include <civetweb.h>
#include <fmt/format.h>

#include <string>

#include "jss/core/base/status.h"
#include "jss/core/base/strings.h"
#include "prometheus/text_serializer.h"

namespace jss::metrics {
namespace {

int Reply(::mg_connection* conn, int code, std::string_view content_type,
          std::string_view body) {
  const char* reason = code == 200 ? "OK" : (code == 503 ? "Service Unavailable" : "Error");
  mg_printf(conn,
            "HTTP/1.1 %d %s\r\nContent-Type: %.*s\r\nContent-Length: %zu\r\n"
            "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
            code, reason, static_cast<int>(content_type.size()), content_type.data(),
            body.size());
  mg_write(conn, body.data(), body.size());
  return code;
}

// civetweb wants "host:port" with IPv6 hosts in brackets and "+" for dual stack;
// we accept the same host:port text as the gRPC flag.
std::string ToCivetPort(const std::string& address) { return address; }

}  // namespace

HttpServer::HttpServer(std::shared_ptr<prometheus::Registry> registry,
                       std::function<bool()> ready, std::function<bool()> alive)
    : registry_(std::move(registry)), ready_(std::move(ready)), alive_(std::move(alive)) {}

namespace {

// Starts one civetweb listener; nullptr when it cannot listen there.
mg_context* Listen(const std::string& address, const char* threads, const char* timeout_ms,
                   int* port) {
  const std::string ports = ToCivetPort(address);
  // request_timeout_ms bounds how long a connection that dribbles its request
  // (or sends nothing) holds a worker thread.
  const char* options[] = {"listening_ports", ports.c_str(), "num_threads", threads,
                           "request_timeout_ms", timeout_ms, "enable_keep_alive", "no",
                           nullptr};
  mg_callbacks callbacks{};
  mg_context* ctx = mg_start(&callbacks, nullptr, options);
  if (ctx == nullptr) return nullptr;
  mg_server_port bound[4] = {};
  if (mg_get_server_ports(ctx, 4, bound) > 0) *port = bound[0].port;
  return ctx;
}

}  // namespace

core::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    const std::string& address, std::shared_ptr<prometheus::Registry> registry,
    std::function<bool()> ready, std::function<bool()> alive,
    const std::string& probe_address) {
  std::unique_ptr<HttpServer> server(
      new HttpServer(std::move(registry), std::move(ready), std::move(alive)));
  mg_init_library(0);
  // Scrapes are few and fast; 16 workers and a 2 s request timeout let a
  // handful of stalled clients cost a few seconds of capacity, not all of it.
  server->ctx_ = Listen(address, "16", "2000", &server->port_);
  if (server->ctx_ == nullptr) {
    return core::InvalidArgumentError(fmt::format(
        "--metrics-address \"{}\": cannot listen there (bad host:port, or the port is in use)",
        address));
  }
  mg_set_request_handler(server->ctx_, "/metrics$", &HttpServer::HandleMetrics, server.get());
  mg_set_request_handler(server->ctx_, "/healthz$", &HttpServer::HandleHealthz, server.get());
  mg_set_request_handler(server->ctx_, "/readyz$", &HttpServer::HandleReadyz, server.get());
  if (!probe_address.empty()) {
    server->probe_ctx_ = Listen(probe_address, "4", "1000", &server->probe_port_);
    if (server->probe_ctx_ == nullptr) {
      return core::InvalidArgumentError(fmt::format(
          "--probe-address \"{}\": cannot listen there (bad host:port, or the port is in use)",
          probe_address));
    }
    mg_set_request_handler(server->probe_ctx_, "/healthz$", &HttpServer::HandleHealthz,
                           server.get());
    mg_set_request_handler(server->probe_ctx_, "/readyz$", &HttpServer::HandleReadyz,
                           server.get());
  }
  return server;
}

HttpServer::~HttpServer() {
  if (probe_ctx_ != nullptr) mg_stop(probe_ctx_);
  if (ctx_ != nullptr) mg_stop(ctx_);
}

int HttpServer::HandleMetrics(::mg_connection* conn, void* self) {
  auto* server = static_cast<HttpServer*>(self);
  const std::string body = prometheus::TextSerializer().Serialize(server->registry_->Collect());
  return Reply(conn, 200, "text/plain; version=0.0.4; charset=utf-8", body);
}

int HttpServer::HandleHealthz(::mg_connection* conn, void* self) {
  auto* server = static_cast<HttpServer*>(self);
  if (server->alive_()) return Reply(conn, 200, "text/plain", "ok\n");
  return Reply(conn, 503, "text/plain",
               "unhealthy: a NATS connection was closed for good; restart the scaler\n");
}

int HttpServer::HandleReadyz(::mg_connection* conn, void* self) {
  auto* server = static_cast<HttpServer*>(self);
  if (server->ready_()) return Reply(conn, 200, "text/plain", "ready\n");
  return Reply(conn, 503, "text/plain",
               "not ready: a NATS connection is down, or its peer is not reading\n");
}

}  // namespace jss::metrics
