#include "jss/logging/logger.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "spdlog/sinks/ostream_sink.h"

namespace jss::logging {
namespace {

std::string Render(Format format) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::logger>(
      "t", std::make_shared<spdlog::sinks::ostream_sink_mt>(out));
  sink->set_level(spdlog::level::debug);
  Logger logger(sink, format);
  logger.Info("rpc \"failed\"", {{"stream", "ORDERS"}, {"error", "line1\nline2"}});
  return out.str();
}

TEST(LoggerTest, JsonLinesAreEscapedObjects) {
  const std::string line = Render(Format::kJson);
  EXPECT_THAT(line, ::testing::StartsWith("{\"time\":\""));
  EXPECT_THAT(line, ::testing::HasSubstr("\"level\":\"info\""));
  EXPECT_THAT(line, ::testing::HasSubstr("\"msg\":\"rpc \\\"failed\\\"\""));
  EXPECT_THAT(line, ::testing::HasSubstr("\"stream\":\"ORDERS\""));
  EXPECT_THAT(line, ::testing::HasSubstr("\"error\":\"line1\\nline2\"}"));
}

TEST(LoggerTest, TextLinesQuoteValuesThatNeedIt) {
  const std::string line = Render(Format::kText);
  EXPECT_THAT(line, ::testing::HasSubstr("info rpc \"failed\" stream=ORDERS error=\"line1\\nline2\""));
}

TEST(LoggerTest, LinesStartWithTheUtcTimeAndLevel) {
  EXPECT_THAT(Render(Format::kJson),
              ::testing::MatchesRegex(R"(\{"time":"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:)"
                                      R"([0-9]{2}\.[0-9]{3}Z","level":"info","msg":.*\}\s*)"));
  EXPECT_THAT(Render(Format::kText),
              ::testing::MatchesRegex(R"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}Z info .*)"));
}

TEST(LoggerTest, BytesThatAreNotUtf8BecomeTheReplacementCharacter) {
  std::string out;
  AppendJsonEscaped(out, std::string("a\xff\"z", 4));
  EXPECT_EQ(out, "a\xef\xbf\xbd\\\"z");
}

TEST(LoggerTest, EscapesControlCharacters) {
  std::string out;
  AppendJsonEscaped(out, std::string("a\x01z", 3));
  EXPECT_EQ(out, "a\\u0001z");
}

}  // namespace
}  // namespace jss::logging
