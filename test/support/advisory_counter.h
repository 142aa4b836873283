#pragma once

#include <nats/nats.h>

#include <atomic>
#include <cstdint>
#include <string>

namespace jss::testing {

// Counts nats-server's $JS.EVENT.ADVISORY.API.LIMIT_REACHED advisories (2.10.27+: a JetStream
// API queue overflowed and the server dropped the queued requests unanswered) and sums their
// "dropped" counts. The server publishes them in its system account, so `url` must carry a
// system-account user.
class ApiLimitAdvisories {
 public:
  explicit ApiLimitAdvisories(const std::string& url);
  ~ApiLimitAdvisories();  // closes the connection first: no callback runs after it
  ApiLimitAdvisories(const ApiLimitAdvisories&) = delete;
  ApiLimitAdvisories& operator=(const ApiLimitAdvisories&) = delete;

  bool ok() const { return ok_; }  // connected and subscribed
  int64_t advisories() const { return advisories_.load(); }
  int64_t dropped() const { return dropped_.load(); }

 private:
  static void OnMessage(natsConnection*, natsSubscription*, natsMsg* msg, void* self);

  natsConnection* conn_ = nullptr;
  natsSubscription* sub_ = nullptr;
  std::atomic<int64_t> advisories_{0};
  std::atomic<int64_t> dropped_{0};
  bool ok_ = false;
};

// A nats-server configuration for ApiLimitAdvisories: JetStream account APP, which
// unauthenticated clients land in (no_auth_user), and system account SYS (user sys, password
// sys-pw). `extra` is appended (e.g. "jetstream { info_queue_limit: 1 }").
std::string ConfigWithSystemAccount(const std::string& extra = "");
// The system user's URL for a server on `port` started with that configuration.
std::string SystemAccountUrl(int port);

}  // namespace jss::testing
