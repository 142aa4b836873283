#include "jss/core/lag/consumer_info_decoder.h"

#include <fmt/format.h>

#include <string>

#include "jss/core/base/status.h"
#include "jss/core/base/strings.h"
#include "json_fields.h"
#include "nlohmann/json.hpp"

namespace jss::core {
namespace {

using detail::ReadCounter;

core::Status Unexpected(std::string_view stream, std::string_view consumer,
                        std::string_view why) {
  return core::UnavailableError(
      fmt::format("unexpected JetStream API reply for consumer \"{}\" on stream \"{}\": {}",
                  consumer, stream, why));
}

// Echoed text from the peer (an error description) is cut to this many bytes.
constexpr size_t kMaxEchoedBytes = 64;

bool KeptField(std::string_view key, int depth) {
  // depth 1: the reply object's members; depth 2: members of "error"/"config".
  if (depth == 1) {
    return key == "error" || key == "num_pending" || key == "num_ack_pending" ||
           key == "config" || key == "paused" || key == "pause_remaining" || key == "api";
  }
  if (depth == 2) {
    return key == "err_code" || key == "code" || key == "description" ||
           key == "filter_subject" || key == "filter_subjects" || key == "subjects" ||
           key == "level";
  }
  return false;
}

// Parses a reply keeping only the fields this file reads; bounded in size
// and, by dropping everything else, in depth and memory.
core::StatusOr<nlohmann::json> ParseBounded(std::string_view body, std::string_view stream,
                                            std::string_view consumer) {
  if (body.size() > kMaxReplyBytes) {
    return Unexpected(
        stream, consumer,
        fmt::format("reply of {} bytes exceeds the {}-byte limit", body.size(), kMaxReplyBytes));
  }
  const nlohmann::json::parser_callback_t keep = [](int depth,
                                                    nlohmann::json::parse_event_t event,
                                                    nlohmann::json& parsed) {
    using Event = nlohmann::json::parse_event_t;
    if (event == Event::key) return KeptField(parsed.get_ref<const std::string&>(), depth);
    // Arrays of subject strings sit at depth 3; nothing the decoders read is
    // nested deeper, so deeper containers are dropped as they close.
    if (event == Event::object_end || event == Event::array_end) return depth <= 3;
    return true;
  };
  nlohmann::json doc = nlohmann::json::parse(body.begin(), body.end(), keep,
                                             /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Unexpected(stream, consumer, "body is not JSON");
  return doc;
}

}  // namespace

core::StatusOr<ConsumerLag> DecodeConsumerInfoResponse(std::string_view body,
                                                       std::string_view stream,
                                                       std::string_view consumer) {
  auto parsed = ParseBounded(body, stream, consumer);
  if (!parsed.ok()) return parsed.status();
  const nlohmann::json& doc = *parsed;
  if (!doc.is_object()) return Unexpected(stream, consumer, "body is not a JSON object");

  if (auto err = doc.find("error"); err != doc.end() && !err->is_null()) {
    int err_code = 0;
    int http_code = 0;
    std::string description;
    if (err->is_object()) {
      if (auto it = err->find("err_code"); it != err->end() && it->is_number_integer()) {
        err_code = it->get<int>();
      }
      if (auto it = err->find("code"); it != err->end() && it->is_number_integer()) {
        http_code = it->get<int>();
      }
      if (auto it = err->find("description"); it != err->end() && it->is_string()) {
        description = core::Truncate(it->get_ref<const std::string&>(), kMaxEchoedBytes);
      }
    }
    switch (err_code) {
      case kJsErrConsumerNotFound:
        return core::NotFoundError(
            fmt::format("consumer \"{}\" not found on stream \"{}\" (JetStream error 10014)",
                        consumer, stream));
      case kJsErrStreamNotFound:
        return core::NotFoundError(
            fmt::format("stream \"{}\" not found (JetStream error 10059)", stream));
      case kJsErrNotEnabledForAccount:
      case kJsErrNotEnabled:
        return core::UnavailableError(fmt::format(
            "JetStream is not enabled for this connection's account (JetStream error {})",
            err_code));
      default:
        return core::UnavailableError(
            fmt::format("JetStream API error reading consumer \"{}\" on stream \"{}\": {} (code "
                        "{}, err_code {})",
                        consumer, stream, description.empty() ? "no description" : description,
                        http_code, err_code));
    }
  }

  ConsumerLag lag;
  if (!ReadCounter(doc, "num_pending", &lag.num_pending)) {
    return Unexpected(stream, consumer, "missing or invalid num_pending");
  }
  if (!ReadCounter(doc, "num_ack_pending", &lag.num_ack_pending)) {
    return Unexpected(stream, consumer, "missing or invalid num_ack_pending");
  }
  // 2.11+; older servers send neither (not paused). Anything but a bool is
  // not a pause: the counters stay the answer either way.
  if (auto it = doc.find("paused"); it != doc.end() && it->is_boolean()) {
    lag.paused = it->get<bool>();
  }
  if (lag.paused) ReadCounter(doc, "pause_remaining", &lag.pause_remaining_ns);
  return lag;
}

}  // namespace jss::core

namespace jss::core {
namespace {

// Parses a reply and turns an API error into a status (NOT_FOUND for the two
// "missing" codes), like DecodeConsumerInfoResponse.
StatusOr<nlohmann::json> ParseReply(std::string_view body, std::string_view stream,
                                    std::string_view consumer) {
  auto parsed = ParseBounded(body, stream, consumer);
  if (!parsed.ok()) return parsed.status();
  nlohmann::json doc = std::move(*parsed);
  if (!doc.is_object()) return Unexpected(stream, consumer, "body is not a JSON object");
  if (auto err = doc.find("error"); err != doc.end() && !err->is_null()) {
    // Reuse the lag decoder's error mapping.
    auto mapped = DecodeConsumerInfoResponse(body, stream, consumer);
    if (!mapped.ok()) return mapped.status();
  }
  return doc;
}

void AppendStrings(const nlohmann::json& value, std::vector<std::string>* out) {
  if (value.is_string() && !value.get<std::string>().empty()) {
    out->push_back(value.get<std::string>());
  } else if (value.is_array()) {
    for (const auto& v : value) {
      if (v.is_string() && !v.get<std::string>().empty()) out->push_back(v.get<std::string>());
    }
  }
}

}  // namespace

StatusOr<std::vector<std::string>> DecodeConsumerFilterSubjects(std::string_view body,
                                                                std::string_view stream,
                                                                std::string_view consumer) {
  auto doc = ParseReply(body, stream, consumer);
  if (!doc.ok()) return doc.status();
  std::vector<std::string> subjects;
  auto config = doc->find("config");
  if (config == doc->end() || !config->is_object()) {
    return Unexpected(stream, consumer, "missing config");
  }
  if (auto f = config->find("filter_subject"); f != config->end()) AppendStrings(*f, &subjects);
  if (auto f = config->find("filter_subjects"); f != config->end()) AppendStrings(*f, &subjects);
  return subjects;
}

StatusOr<std::vector<std::string>> DecodeStreamSubjects(std::string_view body,
                                                        std::string_view stream) {
  auto doc = ParseReply(body, stream, "");
  if (!doc.ok()) return doc.status();
  std::vector<std::string> subjects;
  auto config = doc->find("config");
  if (config == doc->end() || !config->is_object()) {
    return Unexpected(stream, "", "missing stream config");
  }
  if (auto s = config->find("subjects"); s != config->end()) AppendStrings(*s, &subjects);
  return subjects;
}

StatusOr<std::optional<int64_t>> DecodeApiLevel(std::string_view body) {
  auto parsed = ParseBounded(body, "", "");
  if (!parsed.ok() || !parsed->is_object()) {
    return core::UnavailableError("unexpected $JS.API.INFO reply: not a JSON object");
  }
  const nlohmann::json& doc = *parsed;
  if (auto err = doc.find("error"); err != doc.end() && !err->is_null()) {
    std::string description = "no description";
    int err_code = 0;
    if (err->is_object()) {
      if (auto it = err->find("description"); it != err->end() && it->is_string()) {
        description = core::Truncate(it->get_ref<const std::string&>(), kMaxEchoedBytes);
      }
      if (auto it = err->find("err_code"); it != err->end() && it->is_number_integer()) {
        err_code = it->get<int>();
      }
    }
    return core::UnavailableError(
        fmt::format("$JS.API.INFO refused: {} (err_code {})", description, err_code));
  }
  auto api = doc.find("api");
  if (api == doc.end() || !api->is_object()) return std::optional<int64_t>();
  auto level = api->find("level");
  if (level == api->end()) return std::optional<int64_t>();
  if (!level->is_number_integer() || level->get<int64_t>() < 0 ||
      level->get<int64_t>() > 1'000'000) {
    return core::UnavailableError("unexpected $JS.API.INFO reply: api.level is not a level");
  }
  return std::optional<int64_t>(level->get<int64_t>());
}

}  // namespace jss::core
