#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include "jss/core/base/status.h"

namespace jss::core {

// An inclusive range of durations (a flag's or a metadata key's bounds).
struct DurationRange {
  std::chrono::milliseconds min;
  std::chrono::milliseconds max;

  constexpr bool Contains(std::chrono::milliseconds d) const { return d >= min && d <= max; }
};

// Parses Go-style durations as used across the Kubernetes ecosystem: one or
// more <number><unit> groups, units ms, s, m, h (e.g. "250ms", "2s", "1m30s").
// A bare "0" is accepted. Fractions are not (they hide rounding surprises).
core::StatusOr<std::chrono::milliseconds> ParseDuration(std::string_view text);

// Inverse of ParseDuration for messages and --help ("2s", "250ms", "1m30s").
std::string FormatDuration(std::chrono::milliseconds duration);

}  // namespace jss::core
