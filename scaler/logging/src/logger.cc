#include "jss/logging/logger.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

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
  static const char kHex[] = "0123456789abcdef";
  for (char c : text) {
    const auto uc = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (uc < 0x20) {
          out += "\\u00";
          out += kHex[uc >> 4];
          out += kHex[uc & 0xf];
        } else {
          out += c;
        }
    }
  }
}

namespace {

bool NeedsQuotes(std::string_view v) {
  if (v.empty()) return true;
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || static_cast<unsigned char>(c) < 0x20) return true;
  }
  return false;
}

std::string Timestamp() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t secs = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() %
      1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(millis));
  return buf;
}

}  // namespace

Logger::Logger(std::shared_ptr<spdlog::logger> sink, Format format)
    : sink_(std::move(sink)), format_(format) {
  // We render the whole line ourselves so both formats carry the same fields.
  sink_->set_pattern("%v");
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
  const auto level_name = spdlog::level::to_string_view(level);
  std::string line;
  line.reserve(128);
  if (format_ == Format::kJson) {
    line += "{\"time\":\"";
    line += Timestamp();
    line += "\",\"level\":\"";
    line.append(level_name.data(), level_name.size());
    line += "\",\"msg\":\"";
    AppendJsonEscaped(line, msg);
    line += '"';
    for (const auto& [key, value] : fields) {
      line += ",\"";
      AppendJsonEscaped(line, key);
      line += "\":\"";
      AppendJsonEscaped(line, value);
      line += '"';
    }
    line += '}';
  } else {
    line += Timestamp();
    line += ' ';
    line.append(level_name.data(), level_name.size());
    line += ' ';
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
