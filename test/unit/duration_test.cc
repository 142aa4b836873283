#include "jss/core/trigger/duration.h"

#include <gtest/gtest.h>

namespace jss::core {
namespace {

using std::chrono::milliseconds;

struct DurationCase {
  const char* text;
  bool ok;
  int64_t ms;
};

class DurationTest : public ::testing::TestWithParam<DurationCase> {};

TEST_P(DurationTest, Parses) {
  const auto& c = GetParam();
  auto got = ParseDuration(c.text);
  ASSERT_EQ(got.ok(), c.ok) << c.text << ": " << got.status().ToString();
  if (c.ok) {
    EXPECT_EQ(got->count(), c.ms) << c.text;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, DurationTest,
    ::testing::Values(DurationCase{"0", true, 0}, DurationCase{"250ms", true, 250},
                      DurationCase{"2s", true, 2000}, DurationCase{"1m30s", true, 90000},
                      DurationCase{"1h", true, 3600000}, DurationCase{"", false, 0},
                      DurationCase{"10", false, 0}, DurationCase{"1.5s", false, 0},
                      DurationCase{"-1s", false, 0}, DurationCase{"5x", false, 0},
                      DurationCase{"s", false, 0}, DurationCase{" 1s", false, 0},
                      DurationCase{"99999999999999999999s", false, 0}));

TEST(FormatDurationTest, RoundTrips) {
  for (int64_t ms : {0, 1, 250, 2000, 90000, 3600000, 3723004}) {
    auto parsed = ParseDuration(FormatDuration(milliseconds(ms)));
    ASSERT_TRUE(parsed.ok()) << FormatDuration(milliseconds(ms));
    EXPECT_EQ(parsed->count(), ms);
  }
  EXPECT_EQ(FormatDuration(milliseconds(1500)), "1s500ms");
}

}  // namespace
}  // namespace jss::core
