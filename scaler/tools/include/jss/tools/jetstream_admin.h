#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "jss/core/base/status.h"
#include "jss/core/lag/lag.h"

struct __natsConnection;
struct __jsCtx;

namespace jss::tools {

struct StreamSpec {
  std::string name;
  std::vector<std::string> subjects;
  bool memory_storage = false;
  int replicas = 1;
};

struct ConsumerSpec {
  std::string stream;
  std::string durable;
  std::string filter_subject;  // empty: whole stream
};

// Minimal JetStream administration over cnats for the demo, tests and
// benchmarks. Synchronous by design: none of this runs in the scaler.
class JetStreamAdmin {
 public:
  static core::StatusOr<std::unique_ptr<JetStreamAdmin>> Connect(const std::string& url);
  ~JetStreamAdmin();
  JetStreamAdmin(const JetStreamAdmin&) = delete;
  JetStreamAdmin& operator=(const JetStreamAdmin&) = delete;

  core::Status AddStream(const StreamSpec& spec);
  core::Status AddConsumer(const ConsumerSpec& spec);
  core::Status DeleteStream(const std::string& stream);
  core::Status DeleteConsumer(const std::string& stream, const std::string& consumer);
  core::Status Publish(const std::string& subject, int count);
  // Pulls up to `count` messages; acknowledges them when `ack`, otherwise they
  // stay ack-pending (until the consumer's AckWait). Returns how many arrived.
  core::StatusOr<int> Fetch(const std::string& stream, const std::string& consumer, int count,
                            bool ack);
  // A raw request (e.g. a JetStream API call cnats 3.4 has no function for:
  // a consumer with several filter subjects, a pause); the reply body.
  core::StatusOr<std::string> Request(const std::string& subject, const std::string& body);
  // The reference read: cnats' blocking js_GetConsumerInfo.
  core::StatusOr<core::ConsumerLag> ConsumerInfo(const std::string& stream,
                                                 const std::string& consumer);

 private:
  JetStreamAdmin() = default;
  __natsConnection* conn_ = nullptr;
  __jsCtx* js_ = nullptr;
};

}  // namespace jss::tools
