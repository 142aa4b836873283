#include "jss/metrics/http_server.h"

#include <civetweb.h>

#include <string>

#include "prometheus/text_serializer.h"
#include "jss/core/status.h"
#include "jss/core/strings.h"

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

core::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    const std::string& address, std::shared_ptr<prometheus::Registry> registry,
    std::function<bool()> ready, std::function<bool()> alive) {
  std::unique_ptr<HttpServer> server(
      new HttpServer(std::move(registry), std::move(ready), std::move(alive)));
  mg_init_library(0);
  const std::string ports = ToCivetPort(address);
  const char* options[] = {"listening_ports", ports.c_str(), "num_threads", "4",
                           "request_timeout_ms", "10000", nullptr};
  mg_callbacks callbacks{};
  server->ctx_ = mg_start(&callbacks, nullptr, options);
  if (server->ctx_ == nullptr) {
    return core::InvalidArgumentError(core::StrCat(
        "--metrics-address \"", address,
        "\": cannot listen there (bad host:port, or the port is in use)"));
  }
  mg_server_port bound[4] = {};
  const int n = mg_get_server_ports(server->ctx_, 4, bound);
  if (n > 0) server->port_ = bound[0].port;
  mg_set_request_handler(server->ctx_, "/metrics$", &HttpServer::HandleMetrics, server.get());
  mg_set_request_handler(server->ctx_, "/healthz$", &HttpServer::HandleHealthz, server.get());
  mg_set_request_handler(server->ctx_, "/readyz$", &HttpServer::HandleReadyz, server.get());
  return server;
}

HttpServer::~HttpServer() {
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
  return Reply(conn, 503, "text/plain", "not ready: NATS is not connected\n");
}

}  // namespace jss::metrics
