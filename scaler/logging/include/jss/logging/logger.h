#pragma once

#include <array>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "spdlog/logger.h"

namespace jss::logging {

enum class Format { kText, kJson };

// The level names --log-level accepts, most verbose first.
inline constexpr std::array<std::string_view, 5> kLevelNames = {"trace", "debug", "info",
                                                                "warn", "error"};
// The spdlog level for one of kLevelNames; nullopt for any other name.
std::optional<spdlog::level::level_enum> LevelFromName(std::string_view name);

using Field = std::pair<std::string_view, std::string_view>;

// A thin structured logger: a message plus key/value fields, rendered as
// `msg key=value ...` or as one JSON object per line. Callers pass only
// non-secret values; there is deliberately no way to log a whole config.
class Logger {
 public:
  Logger(std::shared_ptr<spdlog::logger> sink, Format format);

  // stderr logger with the given level ("trace".."error") and format.
  static std::shared_ptr<Logger> ToStderr(spdlog::level::level_enum level, Format format);
  // Discards everything (tests, benchmarks).
  static std::shared_ptr<Logger> Null();

  bool Enabled(spdlog::level::level_enum level) const { return sink_->should_log(level); }

  void Log(spdlog::level::level_enum level, std::string_view msg,
           std::initializer_list<Field> fields = {}) const;

  void Debug(std::string_view msg, std::initializer_list<Field> fields = {}) const {
    Log(spdlog::level::debug, msg, fields);
  }
  void Info(std::string_view msg, std::initializer_list<Field> fields = {}) const {
    Log(spdlog::level::info, msg, fields);
  }
  void Warn(std::string_view msg, std::initializer_list<Field> fields = {}) const {
    Log(spdlog::level::warn, msg, fields);
  }
  void Error(std::string_view msg, std::initializer_list<Field> fields = {}) const {
    Log(spdlog::level::err, msg, fields);
  }

 private:
  std::shared_ptr<spdlog::logger> sink_;
  Format format_;
};

// JSON string escaping for log lines (exposed for tests).
void AppendJsonEscaped(std::string& out, std::string_view text);

}  // namespace jss::logging
