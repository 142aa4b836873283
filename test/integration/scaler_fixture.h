#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>

#include "jss/app/config.h"
#include "jss/logging/logger.h"
#include "jss/server/server.h"
#include "integration/nats_fixture.h"
#include "jss/tools/jetstream_admin.h"
#include "jss/tools/keda_client.h"
#include "support/nats_server_process.h"
#include "support/test_util.h"

namespace jss::testing {

// A real nats-server, an in-process scaler on free ports talking to it, an
// admin connection and a KEDA-shaped gRPC client.
class ScalerFixture : public NatsFixture {
 protected:
  void TearDown() override {
    if (server_) server_->Stop();
  }

  // Starts the scaler; `tweak` adjusts the default test config first.
  void StartScaler(const std::function<void(app::Config&)>& tweak = nullptr) {
    config_.grpc_address = "127.0.0.1:0";
    config_.metrics_address = "127.0.0.1:0";
    config_.connections = {{"default", {nats_->url()}, false}};
    config_.lag_cache_ttl = std::chrono::milliseconds(0);  // exact numbers per call
    if (tweak) tweak(config_);
    // JSS_TEST_LOGS=1 shows the scaler's own logs when debugging a test; a test that
    // reads the logs sets logger_.
    auto logger = logger_ ? logger_
                  : std::getenv("JSS_TEST_LOGS") != nullptr
                      ? logging::Logger::ToStderr(spdlog::level::debug, logging::Format::kText)
                      : logging::Logger::Null();
    auto server = jss::server::Server::Start(config_, logger);
    if (!server.ok()) {
      // A helper's ASSERT only returns from the helper; throwing ends the
      // test (gtest reports it) instead of letting it use a null client.
      ADD_FAILURE() << "scaler did not start: " << server.status().ToString();
      throw std::runtime_error("scaler did not start");
    }
    server_ = std::move(*server);
    client_ = std::make_unique<tools::KedaClient>(
        "127.0.0.1:" + std::to_string(server_->grpc_port()));
  }

  static std::map<std::string, std::string> Md(const std::string& stream,
                                               const std::string& consumer,
                                               std::map<std::string, std::string> extra = {}) {
    extra["stream"] = stream;
    extra["consumer"] = consumer;
    extra["scalerAddress"] = "jetstream-scaler.keda.svc:6000";  // KEDA passes it through
    return extra;
  }

  void CreateStream(const std::string& name, const std::string& subjects,
                    const std::string& consumer, const std::string& filter = "") {
    ASSERT_TRUE(admin_->AddStream({name, {subjects}}).ok());
    ASSERT_TRUE(admin_->AddConsumer({name, consumer, filter}).ok());
  }

  std::string Metrics() { return HttpGet(server_->metrics_port(), "/metrics").body; }

  app::Config config_;
  std::shared_ptr<logging::Logger> logger_;  // default: none (or stderr with JSS_TEST_LOGS)
  std::unique_ptr<server::Server> server_;
  std::unique_ptr<tools::KedaClient> client_;
};

}  // namespace jss::testing
