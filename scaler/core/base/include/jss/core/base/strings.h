#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace jss::core {

// Splits on `sep`, dropping empty pieces.
std::vector<std::string_view> SplitNonEmpty(std::string_view text, char sep);

std::string_view TrimWhitespace(std::string_view text);

// `text` cut to at most `max_bytes` (on a UTF-8 character boundary), with
// "...(N bytes)" appended when cut: for values chosen by someone else that an
// error message or log line repeats, so their size cannot set ours.
std::string Truncate(std::string_view text, size_t max_bytes = 64);

// `text` as a message may quote it when it may be anything at all (forged
// bytes, control characters, invalid UTF-8): printable ASCII stays; '"', '\'
// and every other byte are escaped (\", \\, \xNN); the input is cut after
// `max_bytes` with "...(N bytes)" appended, so the result is at most
// 4 * max_bytes plus that suffix.
std::string Preview(std::string_view text, size_t max_bytes = 32);

// Whole-string unsigned decimal parse; false on anything else or overflow.
bool ParseUint64(std::string_view text, uint64_t* out);

}  // namespace jss::core
