// Fuzzes decoding of JetStream API replies ($JS.API.CONSUMER.INFO and
// $JS.API.STREAM.INFO): whatever NATS (or something pretending to be NATS)
// sends, we get a lag / subject list or a typed error, never a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "jss/core/lag/consumer_info_decoder.h"

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
  auto lag = jss::core::DecodeConsumerInfoResponse(body, "S", "C");
  if (lag.ok()) {
    (void)lag->Total();
  } else {
    ExpectTypedError(lag.status());
  }
  auto filters = jss::core::DecodeConsumerFilterSubjects(body, "S", "C");
  if (filters.ok()) {
    for (const auto& f : *filters) {
      if (f.empty()) std::abort();  // an empty subject would subscribe to nothing useful
    }
  } else {
    ExpectTypedError(filters.status());
  }
  auto subjects = jss::core::DecodeStreamSubjects(body, "S");
  if (!subjects.ok()) ExpectTypedError(subjects.status());
  return 0;
}
