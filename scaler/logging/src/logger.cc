#include "jss/logging/logger.h"

#include <nlohmann/json.hpp>

#include <memory>
#include <string>

#include "spdlog/pattern_formatter.h"
#include "spdlog/sinks/null_sink.h"
#include "spdlog/sinks/stdout_sinks.h"

namespace jss::logging {

std::optional<spdlog::level::level_enum> LevelFromName(std::string_view name) {
  for (std::string_view known : kLevelNames) {
    if (name == known) return spdlog::level::from_str(std::string(name));
  }
  return std::nullopt;
}

void AppendJsonEscaped(std::string& out, std::string_view text) {
  // nlohmann writes the JSON string (quotes included); bytes that are not
  // UTF-8 become U+FFFD instead of an invalid line.
  const std::string quoted = nlohmann::json(std::string(text))
                                 .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  out.append(quoted, 1, quoted.size() - 2);
}

namespace {

bool NeedsQuotes(std::string_view v) {
  if (v.empty()) return true;
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || static_cast<unsigned char>(c) < 0x20) return true;
  }
  return false;
}

// spdlog writes the time (UTC, RFC 3339 with milliseconds) and the level; we
// write the message and the fields (%v).
constexpr char kTextPattern[] = "%Y-%m-%dT%H:%M:%S.%eZ %l %v";
constexpr char kJsonPattern[] = R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l",%v})";

}  // namespace

Logger::Logger(std::shared_ptr<spdlog::logger> sink, Format format)
    : sink_(std::move(sink)), format_(format) {
  sink_->set_formatter(std::make_unique<spdlog::pattern_formatter>(
      format_ == Format::kJson ? kJsonPattern : kTextPattern, spdlog::pattern_time_type::utc));
}

std::shared_ptr<Logger> Logger::ToStderr(spdlog::level::level_enum level, Format format) {
  auto sink = std::make_shared<spdlog::logger>(
      "jetstream-scaler", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  sink->set_level(level);
  sink->flush_on(spdlog::level::trace);
  return std::make_shared<Logger>(std::move(sink), format);
}

std::shared_ptr<Logger> Logger::Null() {
  auto sink = std::make_shared<spdlog::logger>(
      "null", std::make_shared<spdlog::sinks::null_sink_mt>());
  sink->set_level(spdlog::level::off);
  return std::make_shared<Logger>(std::move(sink), Format::kText);
}

void Logger::Log(spdlog::level::level_enum level, std::string_view msg,
                 std::initializer_list<Field> fields) const {
  if (!sink_->should_log(level)) return;
  std::string line;
  line.reserve(128);
  if (format_ == Format::kJson) {
    line += "\"msg\":\"";
    AppendJsonEscaped(line, msg);
    line += '"';
    for (const auto& [key, value] : fields) {
      line += ",\"";
      AppendJsonEscaped(line, key);
      line += "\":\"";
      AppendJsonEscaped(line, value);
      line += '"';
    }
  } else {
    line.append(msg.data(), msg.size());
    for (const auto& [key, value] : fields) {
      line += ' ';
      line.append(key.data(), key.size());
      line += '=';
      if (NeedsQuotes(value)) {
        line += '"';
        AppendJsonEscaped(line, value);
        line += '"';
      } else {
        line.append(value.data(), value.size());
      }
    }
  }
  sink_->log(level, "{}", line);
}

}  // namespace jss::logging
