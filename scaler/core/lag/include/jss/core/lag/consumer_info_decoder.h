#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "jss/core/base/status.h"
#include "jss/core/lag/lag.h"

namespace jss::core {

// JetStream API error codes we translate into typed statuses.
inline constexpr int kJsErrConsumerNotFound = 10014;
inline constexpr int kJsErrStreamNotFound = 10059;
inline constexpr int kJsErrNotEnabledForAccount = 10039;
inline constexpr int kJsErrNotEnabled = 10076;

// Largest JetStream API reply body decoded. A real consumer-info reply is
// about 1 KiB; a peer that sends megabytes (cnats accepts any size) gets
// UNAVAILABLE before a byte is parsed, so it cannot make the scaler allocate
// a document many times the body's size.
inline constexpr size_t kMaxReplyBytes = 64 * 1024;

// Decodes the body of a $JS.API.CONSUMER.INFO reply. Only the fields used
// below are kept while parsing (everything else, and anything nested deeper
// than they are, is dropped), and bodies over kMaxReplyBytes are refused.
//  - consumer missing (10014) / stream missing (10059): NOT_FOUND naming it;
//  - any other API error, or a body that is not a consumer-info response with
//    both counters: UNAVAILABLE. A missing counter is never read as zero.
// `paused` / `pause_remaining` (2.11+) are read when present; absent means
// not paused.
core::StatusOr<ConsumerLag> DecodeConsumerInfoResponse(std::string_view body,
                                                       std::string_view stream,
                                                       std::string_view consumer);

}  // namespace jss::core

namespace jss::core {

// From a $JS.API.CONSUMER.INFO reply: the consumer's filter subject(s)
// (config.filter_subject or config.filter_subjects); empty when it reads the
// whole stream.
StatusOr<std::vector<std::string>> DecodeConsumerFilterSubjects(std::string_view body,
                                                                std::string_view stream,
                                                                std::string_view consumer);

// From a $JS.API.STREAM.INFO reply: the stream's subjects (config.subjects).
StatusOr<std::vector<std::string>> DecodeStreamSubjects(std::string_view body,
                                                        std::string_view stream);

// From a $JS.API.INFO (account info) reply: the JetStream API level of the
// server that answered (`api.level`, nats-server 2.11+); nullopt when the
// reply has none (2.10 and older). An API error (e.g. JetStream disabled for
// the account) or a malformed level is UNAVAILABLE, never a level.
StatusOr<std::optional<int64_t>> DecodeApiLevel(std::string_view body);

}  // namespace jss::core
