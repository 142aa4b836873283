#include "jss/core/trigger/duration.h"

#include <fmt/format.h>

#include <charconv>
#include <cstdint>
#include <limits>

#include "jss/core/base/status.h"
#include "jss/core/base/strings.h"

namespace jss::core {
namespace {

constexpr int64_t kMaxMillis = std::numeric_limits<int64_t>::max() / 1000;

core::Status Invalid(std::string_view text, std::string_view why) {
  return core::InvalidArgumentError(
      fmt::format("invalid duration \"{}\": {} (expected e.g. 250ms, 2s, 1m30s)", text, why));
}

}  // namespace

core::StatusOr<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  if (text.empty()) return Invalid(text, "empty");
  if (text == "0") return std::chrono::milliseconds(0);
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] < '0' || text[i] > '9') return Invalid(text, "expected a digit");
    int64_t value = 0;
    const char* end = text.data() + text.size();
    const auto [digits_end, ec] = std::from_chars(text.data() + i, end, value);
    if (ec != std::errc() || value > kMaxMillis) return Invalid(text, "too large");
    i = static_cast<size_t>(digits_end - text.data());
    size_t unit_start = i;
    while (i < text.size() && (text[i] < '0' || text[i] > '9')) ++i;
    std::string_view unit = text.substr(unit_start, i - unit_start);
    int64_t scale;
    if (unit == "ms") {
      scale = 1;
    } else if (unit == "s") {
      scale = 1000;
    } else if (unit == "m") {
      scale = 60 * 1000;
    } else if (unit == "h") {
      scale = 3600 * 1000;
    } else if (unit.empty()) {
      return Invalid(text, "missing unit");
    } else {
      return Invalid(text, fmt::format("unknown unit \"{}\"", unit));
    }
    if (value > (kMaxMillis - total) / scale) return Invalid(text, "too large");
    total += value * scale;
  }
  return std::chrono::milliseconds(total);
}

std::string FormatDuration(std::chrono::milliseconds duration) {
  int64_t ms = duration.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  const int64_t hours = ms / 3600000;
  const int64_t minutes = (ms / 60000) % 60;
  const int64_t seconds = (ms / 1000) % 60;
  const int64_t millis = ms % 1000;
  if (hours) out += fmt::format("{}h", hours);
  if (minutes) out += fmt::format("{}m", minutes);
  if (seconds) out += fmt::format("{}s", seconds);
  if (millis) out += fmt::format("{}ms", millis);
  return out;
}

}  // namespace jss::core
