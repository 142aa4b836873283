// Fuzzes the access-policy parser and matcher: a policy file is operator
// input, but a bad one must be refused with INVALID_ARGUMENT, never crash or
// hang the scaler (globs are matched without exponential backtracking).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "jss/core/policy/access_policy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto policy = jss::core::AccessPolicy::Parse(input, "fuzz.json");
  if (!policy.ok()) {
    if (policy.status().code() != jss::core::StatusCode::kInvalidArgument) std::abort();
  } else {
    const jss::core::Status s = policy->Check("shop", {"default", "ORDERS", "workers"});
    if (!s.ok() && s.code() != jss::core::StatusCode::kPermissionDenied) std::abort();
  }
  // The same bytes as a glob pattern against a fixed text and vice versa.
  const size_t half = input.size() / 2;
  (void)jss::core::GlobMatch(input.substr(0, half), input.substr(half));
  return 0;
}
