#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace jss::core {

namespace strings_internal {
inline void Append(std::string& out, std::string_view s) { out.append(s.data(), s.size()); }
inline void Append(std::string& out, const char* s) { out.append(s); }
inline void Append(std::string& out, const std::string& s) { out.append(s); }
inline void Append(std::string& out, char c) { out.push_back(c); }
inline void Append(std::string& out, bool) = delete;  // say what you mean
template <typename T, typename = std::enable_if_t<std::is_integral_v<T>>>
void Append(std::string& out, T v) {
  out.append(std::to_string(v));
}
}  // namespace strings_internal

// Concatenates strings, string_views, chars and integers.
template <typename... Args>
std::string StrCat(const Args&... args) {
  std::string out;
  (strings_internal::Append(out, args), ...);
  return out;
}

template <typename Container>
std::string StrJoin(const Container& parts, std::string_view sep) {
  std::string out;
  bool first = true;
  for (const auto& p : parts) {
    if (!first) out.append(sep.data(), sep.size());
    first = false;
    strings_internal::Append(out, p);
  }
  return out;
}

// Splits on `sep`, dropping empty pieces.
std::vector<std::string_view> SplitNonEmpty(std::string_view text, char sep);

std::string_view TrimWhitespace(std::string_view text);

// `text` cut to at most `max_bytes` (on a UTF-8 character boundary), with
// "...(N bytes)" appended when cut: for values chosen by someone else that an
// error message or log line repeats, so their size cannot set ours.
std::string Truncate(std::string_view text, size_t max_bytes = 64);

// Whole-string unsigned decimal parse; false on anything else or overflow.
bool ParseUint64(std::string_view text, uint64_t* out);

}  // namespace jss::core
