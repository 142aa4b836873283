#include "jss/core/connection_selector.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace jss::core {
namespace {

using ::testing::HasSubstr;

TriggerMetadata Md(std::optional<std::string> account, std::optional<std::string> url) {
  TriggerMetadata md;
  md.stream = "S";
  md.consumer = "C";
  md.account = std::move(account);
  md.nats_url = std::move(url);
  return md;
}

ConnectionSelector DefaultOnly() {
  return ConnectionSelector({{"default", {"nats://a:4222", "nats://b:4222"}, false}});
}

ConnectionSelector Named() {
  return ConnectionSelector({{"default", {"nats://a:4222"}, false},
                             {"tenant-b", {"nats://b:4222"}, true}});
}

TEST(ConnectionSelectorTest, DefaultWhenNothingSaysOtherwise) {
  EXPECT_EQ(*DefaultOnly().Select(Md(std::nullopt, std::nullopt)), "default");
  EXPECT_EQ(*Named().Select(Md(std::nullopt, std::nullopt)), "default");
}

TEST(ConnectionSelectorTest, AccountIgnoredWithOnlyTheDefaultConnection) {
  EXPECT_EQ(*DefaultOnly().Select(Md("anything", std::nullopt)), "default");
}

TEST(ConnectionSelectorTest, AccountSelectsNamedConnection) {
  EXPECT_EQ(*Named().Select(Md("tenant-b", std::nullopt)), "tenant-b");
}

TEST(ConnectionSelectorTest, UnknownAccountIsInvalidArgument) {
  auto s = Named().Select(Md("tenant-x", std::nullopt));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.status().message(), HasSubstr("\"account\"=\"tenant-x\""));
  EXPECT_THAT(s.status().message(), HasSubstr("default, tenant-b"));
}

TEST(ConnectionSelectorTest, NatsUrlMustBeConfigured) {
  EXPECT_EQ(*DefaultOnly().Select(Md(std::nullopt, "nats://b:4222/")), "default");
  EXPECT_EQ(*Named().Select(Md(std::nullopt, "nats://b:4222")), "tenant-b");
  auto s = DefaultOnly().Select(Md(std::nullopt, "nats://evil.example:4222"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.status().message(), HasSubstr("\"natsUrl\""));
  EXPECT_THAT(s.status().message(), HasSubstr("only dials operator-configured"));
}

TEST(ConnectionSelectorTest, ConflictingAccountAndUrlIsInvalidArgument) {
  auto s = Named().Select(Md("tenant-b", "nats://a:4222"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.status().message(), HasSubstr("different connections"));
  EXPECT_EQ(*Named().Select(Md("tenant-b", "nats://b:4222")), "tenant-b");
}

}  // namespace
}  // namespace jss::core
