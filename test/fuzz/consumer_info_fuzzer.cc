// Fuzzes decoding of $JS.API.CONSUMER.INFO replies: whatever NATS (or
// something pretending to be NATS) sends, we get a lag or a typed error.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "jss/core/consumer_info_decoder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto lag = jss::core::DecodeConsumerInfoResponse(body, "S", "C");
  if (!lag.ok()) {
    const auto code = lag.status().code();
    if (code != jss::core::StatusCode::kNotFound && code != jss::core::StatusCode::kUnavailable) {
      std::abort();
    }
    return 0;
  }
  (void)lag->Total();
  return 0;
}
