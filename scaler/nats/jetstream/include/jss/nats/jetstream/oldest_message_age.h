#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

#include "jss/core/base/clock.h"
#include "jss/core/lag/lag_source.h"
#include "jss/core/lag/message_age.h"
#include "jss/core/base/status.h"
#include "jss/nats/jetstream/jetstream_api.h"

namespace jss::nats {

// One age read's answer.
struct MessageAge {
  int64_t age_ms = 0;       // 0: nothing unacknowledged (or stamped after "now")
  uint64_t oldest_seq = 0;  // stream sequence of the oldest unacknowledged message; 0: none
  int requests = 0;         // message-get requests this read sent (CONSUMER.INFO not counted)
};
using AgeResult = core::StatusOr<MessageAge>;
using AgeCallback = std::function<void(const AgeResult&)>;

// A CONSUMER.INFO read and the age read made from it.
struct ConsumerAge {
  core::ConsumerPosition position;  // .lag: the same counters the lag read reports
  MessageAge age;
};
using ConsumerAgeCallback = std::function<void(const core::StatusOr<ConsumerAge>&)>;

// Reads the age of a consumer's oldest unacknowledged message: the first
// message after its ack floor on each of its filter subjects (the whole
// stream without one), oldest wins, against the server's time of the
// CONSUMER.INFO reply. docs/design/oldest-message-age.md says why each step.
// A consumer with nothing pending and nothing ack-pending costs no request.
// Each message get is a direct get (headers only: the payload is never
// copied) on a stream with allow_direct (known from STREAM.INFO, remembered
// for kStreamConfigTtl), else STREAM.MSG.GET (bounded by the connection's
// reply limit). Callbacks run exactly once,
// inline or on a NATS/scheduler thread, by shortly after the deadline; the
// caller is never blocked on I/O.
class OldestMessageAgeReader {
 public:
  // Whether a stream allows direct gets is read with STREAM.INFO (older
  // servers never answer a direct get to a stream without it, not even with
  // no responders) and remembered this long (its config may change).
  static constexpr std::chrono::minutes kStreamConfigTtl{5};
  // Streams remembered; beyond this all are forgotten (each then costs one
  // more STREAM.INFO).
  static constexpr size_t kMaxStreamsTracked = 10000;

  // The connections must outlive this object. `unix_now_ns` is the clock
  // used when a CONSUMER.INFO reply has no `ts` (nats-server 2.9); default:
  // the system clock.
  explicit OldestMessageAgeReader(const JetStreamConnections& connections,
                                  std::function<int64_t()> unix_now_ns = nullptr);

  // The age, from a position the caller has just read (the lag read's
  // CONSUMER.INFO reply, decoded with core::DecodeConsumerPosition): no
  // second CONSUMER.INFO. NOT_FOUND when the stream is gone; UNAVAILABLE
  // (with the reason) when a message get fails; INVALID_ARGUMENT naming the
  // limit for a consumer with more than kMaxAgeFilterSubjects subjects.
  void ReadAge(const core::ConsumerKey& key, const core::ConsumerPosition& position,
               core::SteadyTime deadline, AgeCallback done);

  // CONSUMER.INFO, then ReadAge: the lag and the age from one consumer read.
  // A missing stream or consumer is NOT_FOUND, as for the lag.
  void ReadConsumerAndAge(const core::ConsumerKey& key, core::SteadyTime deadline,
                          ConsumerAgeCallback done);

 private:
  using Found = core::StatusOr<std::optional<core::StoredMessageTime>>;
  // Calls `done` with whether `key.stream` allows direct gets, and how many
  // requests finding out took (0 when remembered).
  void ResolveDirect(const JetStreamEndpoint& endpoint, const core::ConsumerKey& key,
                     core::SteadyTime deadline,
                     std::function<void(const core::StatusOr<bool>&, int requests)> done);
  void GetFirstAfter(const JetStreamEndpoint& endpoint, const core::ConsumerKey& key,
                     const std::string& subject, uint64_t seq, bool direct,
                     core::SteadyTime deadline,
                     std::function<void(const Found&, int requests)> done);
  void MsgGet(const JetStreamEndpoint& endpoint, const std::string& stream,
              const std::string& body, core::SteadyTime deadline,
              std::function<void(const Found&)> done);
  std::optional<bool> KnownDirect(const std::string& stream_key);
  void NoteDirect(const std::string& stream_key, bool direct);
  void Forget(const std::string& stream_key);

  const JetStreamConnections& connections_;
  const std::function<int64_t()> unix_now_ns_;
  std::mutex mu_;
  struct StreamConfig {
    bool direct = false;
    core::SteadyTime read_at;
  };
  // connection + '\n' + stream -> whether it allows direct gets.
  std::unordered_map<std::string, StreamConfig> streams_;  // guarded by mu_
};

}  // namespace jss::nats
