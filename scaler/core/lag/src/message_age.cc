#include "jss/core/lag/message_age.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "jss/core/lag/consumer_info_decoder.h"
#include "jss/core/base/strings.h"
#include "json_fields.h"
#include "nlohmann/json.hpp"

namespace jss::core {
namespace {

using detail::ReadCounter;

constexpr size_t kMaxEchoedBytes = 64;

Status Unexpected(std::string_view what, std::string_view why) {
  return UnavailableError(fmt::format("unexpected JetStream API reply {}: {}", what, why));
}

bool ConsumerInfoField(std::string_view key, int depth) {
  if (depth == 1) {
    return key == "error" || key == "num_pending" || key == "num_ack_pending" ||
           key == "config" || key == "paused" || key == "pause_remaining" ||
           key == "delivered" || key == "ack_floor" || key == "ts" || key == "created";
  }
  if (depth == 2) {
    return key == "err_code" || key == "code" || key == "description" ||
           key == "filter_subject" || key == "filter_subjects" || key == "deliver_policy" ||
           key == "opt_start_seq" || key == "opt_start_time" || key == "consumer_seq" ||
           key == "stream_seq";
  }
  return false;
}

bool MessageGetField(std::string_view key, int depth) {
  // The payload ("data", base64) and headers are dropped while parsing.
  if (depth == 1) return key == "error" || key == "message";
  if (depth == 2) {
    return key == "seq" || key == "time" || key == "err_code" || key == "code" ||
           key == "description";
  }
  return false;
}

// Parses keeping only `keep`'s fields; bounded in size and, by dropping the
// rest, in depth and memory (like the consumer-info decoder).
StatusOr<nlohmann::json> ParseKeeping(std::string_view body, bool (*keep_field)(std::string_view,
                                                                                int),
                                      std::string_view what) {
  if (body.size() > kMaxReplyBytes) {
    return Unexpected(what, fmt::format("reply of {} bytes exceeds the {}-byte limit",
                                        body.size(), kMaxReplyBytes));
  }
  const nlohmann::json::parser_callback_t keep = [keep_field](int depth,
                                                              nlohmann::json::parse_event_t event,
                                                              nlohmann::json& parsed) {
    using Event = nlohmann::json::parse_event_t;
    if (event == Event::key) return keep_field(parsed.get_ref<const std::string&>(), depth);
    if (event == Event::object_end || event == Event::array_end) return depth <= 3;
    return true;
  };
  nlohmann::json doc = nlohmann::json::parse(body.begin(), body.end(), keep,
                                             /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return Unexpected(what, "body is not a JSON object");
  return doc;
}

// {"consumer_seq":N,"stream_seq":M}; both required.
bool ReadSequencePair(const nlohmann::json& doc, const char* name, uint64_t* consumer_seq,
                      uint64_t* stream_seq) {
  auto it = doc.find(name);
  return it != doc.end() && it->is_object() && ReadCounter(*it, "consumer_seq", consumer_seq) &&
         ReadCounter(*it, "stream_seq", stream_seq);
}

std::optional<int64_t> ReadTime(const nlohmann::json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end() || !it->is_string()) return std::nullopt;
  return ParseRfc3339Nanos(it->get_ref<const std::string&>());
}

bool ParseDigits(std::string_view text, int64_t* out) {
  if (text.empty() || text.size() > 9) return false;
  int64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

std::string_view HeaderValue(std::string_view headers, std::string_view name) {
  while (!headers.empty()) {
    const size_t eol = headers.find('\n');
    std::string_view line = headers.substr(0, eol);
    headers = eol == std::string_view::npos ? std::string_view() : headers.substr(eol + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || line.substr(0, colon) != name) continue;
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    return value;
  }
  return {};
}

bool StreamInfoField(std::string_view key, int depth) {
  if (depth == 1) return key == "error" || key == "config";
  if (depth == 2) {
    return key == "allow_direct" || key == "err_code" || key == "code" || key == "description";
  }
  return false;
}

// An API error in `doc`, mapped like the consumer-info decoder's; nullopt: none.
std::optional<Status> ApiError(const nlohmann::json& doc, std::string_view stream,
                               std::string_view action) {
  auto err = doc.find("error");
  if (err == doc.end() || err->is_null()) return std::nullopt;
  int err_code = 0;
  std::string description = "no description";
  if (err->is_object()) {
    if (auto it = err->find("err_code"); it != err->end() && it->is_number_integer()) {
      err_code = it->get<int>();
    }
    if (auto it = err->find("description"); it != err->end() && it->is_string()) {
      description = Truncate(it->get_ref<const std::string&>(), kMaxEchoedBytes);
    }
  }
  if (err_code == kJsErrStreamNotFound) {
    return NotFoundError(
        fmt::format("stream \"{}\" not found (JetStream error 10059)", Truncate(stream, 255)));
  }
  return UnavailableError(fmt::format("JetStream API error {} of stream \"{}\": {} (err_code {})",
                                      action, Truncate(stream, 255), description, err_code));
}

}  // namespace

StatusOr<bool> DecodeStreamAllowDirect(std::string_view body, std::string_view stream) {
  const std::string what = fmt::format("to a stream info of \"{}\"", Truncate(stream, 255));
  auto doc = ParseKeeping(body, StreamInfoField, what);
  if (!doc.ok()) return doc.status();
  if (auto error = ApiError(*doc, stream, "reading the config")) return *error;
  auto config = doc->find("config");
  if (config == doc->end() || !config->is_object()) return Unexpected(what, "missing config");
  auto direct = config->find("allow_direct");
  return direct != config->end() && direct->is_boolean() && direct->get<bool>();
}

uint64_t ConsumerPosition::FirstUnackedCandidate() const {
  uint64_t first = ack_floor_stream_seq + 1;
  // Nothing acknowledged yet: nats-server before 2.15 reports ack floor 0
  // even when the consumer starts later in the stream (deliver_policy new,
  // by_start_sequence). While nothing was delivered either, delivered.stream_seq
  // is the sequence just before the start on every version.
  if (ack_floor_consumer_seq == 0) {
    if (delivered_consumer_seq == 0) first = std::max(first, delivered_stream_seq + 1);
    if (deliver_policy == "by_start_sequence") first = std::max(first, opt_start_seq);
  }
  // Nothing delivered awaits an ack: every delivered message was acknowledged
  // or gave up (max_deliver reached), and a given-up one holds the ack floor
  // below it for good (2.10.5 and 2.15.3 alike). The oldest unacknowledged
  // message is then one not delivered yet.
  if (lag.num_ack_pending == 0) first = std::max(first, delivered_stream_seq + 1);
  return first;
}

std::optional<int64_t> ConsumerPosition::StartTimeNs() const {
  if (deliver_policy == "new") return created_ns;
  if (deliver_policy == "by_start_time") return opt_start_time_ns;
  return std::nullopt;
}

StatusOr<ConsumerPosition> DecodeConsumerPosition(std::string_view body, std::string_view stream,
                                                  std::string_view consumer) {
  // The counters and every API error exactly as the lag read maps them.
  auto lag = DecodeConsumerInfoResponse(body, stream, consumer);
  if (!lag.ok()) return lag.status();
  const std::string what = fmt::format("for consumer \"{}\" on stream \"{}\"",
                                       Truncate(consumer, 255), Truncate(stream, 255));
  auto doc = ParseKeeping(body, ConsumerInfoField, what);
  if (!doc.ok()) return doc.status();
  ConsumerPosition position;
  position.lag = *lag;
  if (!ReadSequencePair(*doc, "ack_floor", &position.ack_floor_consumer_seq,
                        &position.ack_floor_stream_seq)) {
    return Unexpected(what, "missing or invalid ack_floor");
  }
  if (!ReadSequencePair(*doc, "delivered", &position.delivered_consumer_seq,
                        &position.delivered_stream_seq)) {
    return Unexpected(what, "missing or invalid delivered");
  }
  position.server_time_ns = ReadTime(*doc, "ts");
  position.created_ns = ReadTime(*doc, "created");
  auto config = doc->find("config");
  if (config == doc->end() || !config->is_object()) return Unexpected(what, "missing config");
  auto add = [&](const nlohmann::json& v) {
    if (v.is_string() && !v.get_ref<const std::string&>().empty()) {
      position.filter_subjects.push_back(v.get<std::string>());
    }
  };
  if (auto f = config->find("filter_subject"); f != config->end()) add(*f);
  if (auto f = config->find("filter_subjects"); f != config->end() && f->is_array()) {
    for (const auto& v : *f) add(v);
  }
  if (auto p = config->find("deliver_policy"); p != config->end() && p->is_string()) {
    position.deliver_policy = Truncate(p->get_ref<const std::string&>(), 32);
  }
  ReadCounter(*config, "opt_start_seq", &position.opt_start_seq);
  position.opt_start_time_ns = ReadTime(*config, "opt_start_time");
  return position;
}

StatusOr<std::optional<StoredMessageTime>> DecodeMessageGetResponse(std::string_view body,
                                                                    std::string_view stream) {
  const std::string what = fmt::format("to a message get on stream \"{}\"", Truncate(stream, 255));
  auto doc = ParseKeeping(body, MessageGetField, what);
  if (!doc.ok()) return doc.status();
  if (auto err = doc->find("error"); err != doc->end() && !err->is_null()) {
    if (err->is_object()) {
      if (auto it = err->find("err_code"); it != err->end() && it->is_number_integer() &&
                                           it->get<int>() == kJsErrNoMessageFound) {
        return std::optional<StoredMessageTime>();
      }
    }
    return *ApiError(*doc, stream, "getting a message");
  }
  auto message = doc->find("message");
  if (message == doc->end() || !message->is_object()) return Unexpected(what, "missing message");
  StoredMessageTime found;
  if (!ReadCounter(*message, "seq", &found.seq) || found.seq == 0) {
    return Unexpected(what, "missing or invalid message.seq");
  }
  auto time = ReadTime(*message, "time");
  if (!time) return Unexpected(what, "missing or invalid message.time");
  found.time_ns = *time;
  return std::optional<StoredMessageTime>(found);
}

bool IsNoResponders(std::string_view headers) {
  return HeaderValue(headers, "Nats-Sequence").empty() && HeaderValue(headers, "Status") == "503";
}

StatusOr<std::optional<StoredMessageTime>> DecodeDirectGetHeaders(std::string_view headers,
                                                                  std::string_view stream) {
  const std::string what = fmt::format("to a direct get on stream \"{}\"", Truncate(stream, 255));
  // A stored message carries the server's Nats-Sequence; a Status next to it
  // would be a header its publisher set, not the reply's.
  const std::string_view status =
      HeaderValue(headers, "Nats-Sequence").empty() ? HeaderValue(headers, "Status") : "";
  if (status == "404") return std::optional<StoredMessageTime>();
  if (!status.empty()) {
    const std::string_view description = HeaderValue(headers, "Description");
    return UnavailableError(fmt::format(
        "direct get on stream \"{}\" answered status {}: {}", Truncate(stream, 255),
        Truncate(status, 8),
        description.empty() ? std::string("no description") : Truncate(description, kMaxEchoedBytes)));
  }
  StoredMessageTime found;
  if (!ParseUint64(HeaderValue(headers, "Nats-Sequence"), &found.seq) || found.seq == 0) {
    return Unexpected(what, "missing or invalid Nats-Sequence header");
  }
  auto time = ParseRfc3339Nanos(HeaderValue(headers, "Nats-Time-Stamp"));
  if (!time) return Unexpected(what, "missing or invalid Nats-Time-Stamp header");
  found.time_ns = *time;
  return std::optional<StoredMessageTime>(found);
}

std::optional<int64_t> ParseRfc3339Nanos(std::string_view t) {
  // YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)
  if (t.size() < 20 || t.size() > 40 || t[4] != '-' || t[7] != '-' ||
      (t[10] != 'T' && t[10] != 't') || t[13] != ':' || t[16] != ':') {
    return std::nullopt;
  }
  int64_t year, month, day, hour, minute, second;
  if (!ParseDigits(t.substr(0, 4), &year) || !ParseDigits(t.substr(5, 2), &month) ||
      !ParseDigits(t.substr(8, 2), &day) || !ParseDigits(t.substr(11, 2), &hour) ||
      !ParseDigits(t.substr(14, 2), &minute) || !ParseDigits(t.substr(17, 2), &second)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 ||
      second > 60) {
    return std::nullopt;
  }
  std::string_view rest = t.substr(19);
  int64_t nanos = 0;
  if (!rest.empty() && rest.front() == '.') {
    size_t n = 1;
    while (n < rest.size() && rest[n] >= '0' && rest[n] <= '9') ++n;
    const std::string_view digits = rest.substr(1, n - 1);
    if (digits.empty() || digits.size() > 9 || !ParseDigits(digits, &nanos)) return std::nullopt;
    for (size_t i = digits.size(); i < 9; ++i) nanos *= 10;
    rest.remove_prefix(n);
  }
  int64_t offset_s = 0;
  if (rest == "Z" || rest == "z") {
  } else if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':') {
    int64_t oh, om;
    if (!ParseDigits(rest.substr(1, 2), &oh) || !ParseDigits(rest.substr(4, 2), &om) || oh > 23 ||
        om > 59) {
      return std::nullopt;
    }
    offset_s = (oh * 3600 + om * 60) * (rest[0] == '+' ? 1 : -1);
  } else {
    return std::nullopt;
  }
  // int64 nanoseconds reach 2262; earlier than 1970 is no message time.
  if (year < 1970 || year > 2261) return std::nullopt;
  const int64_t seconds =
      DaysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset_s;
  if (seconds < 0) return std::nullopt;
  return seconds * 1'000'000'000 + nanos;
}

int64_t AgeMillis(int64_t now_ns, int64_t stored_ns) {
  if (now_ns <= stored_ns) return 1;
  const int64_t waited = now_ns - stored_ns;  // no overflow: both are >= 0
  return waited / 1'000'000 + (waited % 1'000'000 != 0 ? 1 : 0);
}

}  // namespace jss::core
