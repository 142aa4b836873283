#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "jss/core/lag/lag.h"
#include "jss/core/base/status.h"

// The age of a consumer's oldest unacknowledged message: which stream
// sequence to look from (out of a CONSUMER.INFO reply) and the decoders of the
// message-get replies that carry its timestamp. Pure: no I/O. The design and
// what each nats-server version answers: docs/design/oldest-message-age.md.
namespace jss::core {

// JetStream API error: no message at or after the requested sequence.
inline constexpr int kJsErrNoMessageFound = 10037;

// Filter subjects an age read asks about (one message get each); a consumer
// with more is refused with a message naming the limit, so a tenant's
// consumer cannot make one read cost hundreds of requests.
inline constexpr size_t kMaxAgeFilterSubjects = 16;

// What the age read needs from one CONSUMER.INFO reply.
struct ConsumerPosition {
  ConsumerLag lag;
  uint64_t ack_floor_stream_seq = 0;
  uint64_t ack_floor_consumer_seq = 0;
  uint64_t delivered_stream_seq = 0;
  uint64_t delivered_consumer_seq = 0;
  // config.filter_subject / config.filter_subjects; empty: the whole stream.
  std::vector<std::string> filter_subjects;
  std::string deliver_policy;  // config.deliver_policy ("all", "new", ...)
  uint64_t opt_start_seq = 0;  // config.opt_start_seq (by_start_sequence)
  // Unix nanoseconds: the reply's own server time (`ts`, nats-server 2.10+),
  // when the consumer was created, config.opt_start_time. nullopt: absent.
  std::optional<int64_t> server_time_ns;
  std::optional<int64_t> created_ns;
  std::optional<int64_t> opt_start_time_ns;

  // The first stream sequence that can hold an unacknowledged message of this
  // consumer: after the ack floor, not before where the consumer starts, and
  // after the last delivered one when none awaits an ack.
  uint64_t FirstUnackedCandidate() const;
  // Messages stored before this (unix ns) are never delivered to the
  // consumer (deliver_policy new: created; by_start_time: opt_start_time).
  std::optional<int64_t> StartTimeNs() const;
};

// Decodes a $JS.API.CONSUMER.INFO reply like DecodeConsumerInfoResponse
// (same size bound, same NOT_FOUND / UNAVAILABLE mapping), keeping the
// position fields too. A missing or invalid ack_floor/delivered is
// UNAVAILABLE, never read as 0.
StatusOr<ConsumerPosition> DecodeConsumerPosition(std::string_view body, std::string_view stream,
                                                  std::string_view consumer);

// One stored message found by a message get.
struct StoredMessageTime {
  uint64_t seq = 0;
  int64_t time_ns = 0;  // unix ns, stamped by the server that stored it
};

// Decodes a $JS.API.STREAM.MSG.GET reply ({"message":{"seq","time",...}}):
// nullopt for "no message found" (10037, nothing at or after the sequence on
// that subject); NOT_FOUND for a missing stream (10059); UNAVAILABLE for any
// other error, a body over kMaxReplyBytes, or a message without seq/time.
StatusOr<std::optional<StoredMessageTime>> DecodeMessageGetResponse(std::string_view body,
                                                                    std::string_view stream);

// Decodes the headers of a $JS.API.DIRECT.GET reply, as the connection hands
// them over ("Name: value" lines; the payload is never copied): nullopt for
// `Status: 404` (no message); UNAVAILABLE for another status or a message
// without Nats-Sequence / Nats-Time-Stamp. `Status: 503` (no responders: the
// stream does not allow direct gets, or does not exist) is UNAVAILABLE too;
// IsNoResponders tells it apart so the caller can fall back to MSG.GET.
StatusOr<std::optional<StoredMessageTime>> DecodeDirectGetHeaders(std::string_view headers,
                                                                  std::string_view stream);
bool IsNoResponders(std::string_view headers);

// From a $JS.API.STREAM.INFO reply: config.allow_direct (absent: false).
// NOT_FOUND for a missing stream (10059), UNAVAILABLE for another error.
StatusOr<bool> DecodeStreamAllowDirect(std::string_view body, std::string_view stream);

// RFC 3339 timestamp as nats-server writes them ("2026-12-03T11:43:01.668826801Z",
// also a numeric offset) to unix nanoseconds; nullopt when malformed or out
// of range (years 1970-2262).
std::optional<int64_t> ParseRfc3339Nanos(std::string_view text);

// How long a message stored at `stored_ns` has waited at `now_ns`, in whole
// milliseconds rounded up, and at least 1: a waiting message is never age 0
// (0 means nothing waits, an idle consumer), not even one stored under a
// millisecond ago or stamped after `now` (clock skew between the servers, or
// with the scaler), which would otherwise tell push activation "idle" for a
// consumer that has work.
int64_t AgeMillis(int64_t now_ns, int64_t stored_ns);

}  // namespace jss::core
