// jss-keda-query, the KEDA-like client of the demo and the docs: its command line.
#include "gmock/gmock.h"
#include "support/test_util.h"

namespace jss::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(KedaQueryTest, HelpPrintsUsageAndExitsZero) {
  for (const char* flag : {"--help", "-h"}) {
    ChildProcess p({JSS_KEDA_QUERY_BIN, flag});
    EXPECT_EQ(p.Wait(), 0) << flag << ": " << p.Output();
    EXPECT_THAT(p.Output(), HasSubstr("usage: jss-keda-query HOST:PORT")) << flag;
    EXPECT_THAT(p.Output(), Not(HasSubstr("GetMetricSpec: error"))) << flag;
  }
}

TEST(KedaQueryTest, AnOptionIsNeverDialledAsAnAddress) {
  ChildProcess p({JSS_KEDA_QUERY_BIN, "--verbose", "stream=S", "consumer=C"});
  EXPECT_EQ(p.Wait(), 2) << p.Output();
  EXPECT_THAT(p.Output(), HasSubstr("unknown option \"--verbose\""));
  EXPECT_THAT(p.Output(), Not(HasSubstr("GetMetricSpec:")));  // no RPC was made
}

TEST(KedaQueryTest, NoArgumentsIsAUsageError) {
  ChildProcess p({JSS_KEDA_QUERY_BIN});
  EXPECT_EQ(p.Wait(), 2) << p.Output();
  EXPECT_THAT(p.Output(), HasSubstr("usage: jss-keda-query"));
}

}  // namespace
}  // namespace jss::testing
