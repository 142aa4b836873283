#include "jss/core/policy/stream_limits.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace jss::core {
namespace {

using ::testing::HasSubstr;

TEST(StreamLimitsTest, OneConnectionCannotTakeMoreThanItsShare) {
  StreamLimits limits(10, 3);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limits.Admit("ipv4:10.0.0.1:5000").ok());
  Status refused = limits.Admit("ipv4:10.0.0.1:5000");
  EXPECT_EQ(refused.code(), StatusCode::kResourceExhausted);
  EXPECT_THAT(refused.message(), HasSubstr("--max-streams-per-connection 3"));
  EXPECT_TRUE(limits.Admit("ipv4:10.0.0.2:5000").ok());  // another client still may
  limits.Release("ipv4:10.0.0.1:5000");
  EXPECT_TRUE(limits.Admit("ipv4:10.0.0.1:5000").ok());  // a closed stream frees its slot
  EXPECT_EQ(limits.open(), 4u);
}

TEST(StreamLimitsTest, AllConnectionsTogetherStayUnderTheTotal) {
  StreamLimits limits(4, 3);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(limits.Admit("peer-" + std::to_string(i)).ok());
  Status refused = limits.Admit("peer-new");
  EXPECT_EQ(refused.code(), StatusCode::kResourceExhausted);
  EXPECT_THAT(refused.message(), HasSubstr("--max-streams 4"));
  limits.Release("peer-0");
  EXPECT_TRUE(limits.Admit("peer-new").ok());
}

TEST(StreamLimitsTest, ReleasingAnUnknownConnectionChangesNothing) {
  StreamLimits limits(1, 1);
  limits.Release("never-admitted");
  EXPECT_TRUE(limits.Admit("a").ok());
  EXPECT_FALSE(limits.Admit("b").ok());
}

}  // namespace
}  // namespace jss::core
