// Fuzzes the age read's decoders (core/message_age.h): STREAM.MSG.GET replies,
// direct-get headers, STREAM.INFO's allow_direct, CONSUMER.INFO positions and
// RFC 3339 times. Whatever a NATS peer sends, a value or a typed error, never
// a crash, and never an age below 0.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "jss/core/lag/message_age.h"

namespace {

void ExpectTypedError(const jss::core::Status& status) {
  const auto code = status.code();
  if (code != jss::core::StatusCode::kNotFound && code != jss::core::StatusCode::kUnavailable) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto get = jss::core::DecodeMessageGetResponse(body, "S");
  if (get.ok()) {
    if (get->has_value() && (*get)->seq == 0) std::abort();  // a found message has a sequence
  } else {
    ExpectTypedError(get.status());
  }
  auto direct = jss::core::DecodeDirectGetHeaders(body, "S");
  if (direct.ok()) {
    if (direct->has_value() && (*direct)->seq == 0) std::abort();
  } else {
    ExpectTypedError(direct.status());
  }
  (void)jss::core::IsNoResponders(body);
  auto allow = jss::core::DecodeStreamAllowDirect(body, "S");
  if (!allow.ok()) ExpectTypedError(allow.status());
  auto position = jss::core::DecodeConsumerPosition(body, "S", "C");
  if (position.ok()) {
    if (position->FirstUnackedCandidate() == 0 && position->ack_floor_stream_seq == 0) {
      std::abort();  // sequence 0 does not exist; the first candidate is 1 or later
    }
  } else {
    ExpectTypedError(position.status());
  }
  if (auto t = jss::core::ParseRfc3339Nanos(body)) {
    if (*t < 0) std::abort();
    if (jss::core::AgeMillis(0, *t) != 1 || jss::core::AgeMillis(*t, 0) < 1) std::abort();
  }
  return 0;
}
