#include "jss/core/lag/lag.h"

#include <gtest/gtest.h>

#include <limits>

namespace jss::core {
namespace {

struct ActivationCase {
  uint64_t pending;
  uint64_t ack_pending;
  int64_t activation;
  bool active;
};

class ActivationTest : public ::testing::TestWithParam<ActivationCase> {};

TEST_P(ActivationTest, ActiveWhenLagIsStrictlyAboveThreshold) {
  const auto& c = GetParam();
  EXPECT_EQ(IsActive(ConsumerLag{c.pending, c.ack_pending}, c.activation), c.active);
}

INSTANTIATE_TEST_SUITE_P(Table, ActivationTest,
                         ::testing::Values(ActivationCase{0, 0, 0, false},
                                           ActivationCase{1, 0, 0, true},
                                           ActivationCase{0, 1, 0, true},
                                           ActivationCase{3, 2, 5, false},
                                           ActivationCase{3, 3, 5, true},
                                           ActivationCase{10, 0, 10, false}));

TEST(LagTest, TotalIsPendingPlusAckPending) {
  EXPECT_EQ((ConsumerLag{20, 5}.Total()), 25u);
  EXPECT_EQ((ConsumerLag{20, 5}.TotalAsInt64()), 25);
}

TEST(LagTest, SaturatesInsteadOfWrapping) {
  const uint64_t max = std::numeric_limits<uint64_t>::max();
  EXPECT_EQ((ConsumerLag{max, 5}.Total()), max);
  EXPECT_EQ((ConsumerLag{max, 5}.TotalAsInt64()), std::numeric_limits<int64_t>::max());
}

}  // namespace
}  // namespace jss::core
