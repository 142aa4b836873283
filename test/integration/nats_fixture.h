#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "jss/tools/jetstream_admin.h"
#include "support/nats_server_process.h"

namespace jss::testing {

// A real nats-server (one per test, like nats.c's fixtures) and an admin
// connection to it that creates streams and consumers and publishes work.
class NatsFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    nats_ = NatsServerProcess::Start(nats_options_, &error);
    ASSERT_NE(nats_, nullptr) << error;
    auto admin = tools::JetStreamAdmin::Connect(nats_->url());
    ASSERT_TRUE(admin.ok()) << admin.status().ToString();
    admin_ = std::move(*admin);
  }

  NatsServerProcess::Options nats_options_;  // set before SetUp (e.g. monitoring)
  std::unique_ptr<NatsServerProcess> nats_;
  std::unique_ptr<tools::JetStreamAdmin> admin_;
};

}  // namespace jss::testing
