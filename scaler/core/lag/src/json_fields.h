#pragma once
// Field readers shared by the JetStream reply decoders of this room.

#include <cstdint>

#include "nlohmann/json.hpp"

namespace jss::core::detail {

// Reads a non-negative integer field; false for anything else (absent, not an
// integer, negative), which the decoders turn into an error, never a 0.
inline bool ReadCounter(const nlohmann::json& obj, const char* name, uint64_t* out) {
  auto it = obj.find(name);
  if (it == obj.end() || !it->is_number_integer()) return false;
  if (it->is_number_unsigned()) {
    *out = it->get<uint64_t>();
    return true;
  }
  const auto value = it->get<int64_t>();
  if (value < 0) return false;
  *out = static_cast<uint64_t>(value);
  return true;
}

}  // namespace jss::core::detail
