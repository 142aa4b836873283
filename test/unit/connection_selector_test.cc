#include "jss/core/policy/connection_selector.h"

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
  EXPECT_THAT(s.status().message(), HasSubstr("--nats-account CONNECTION=tenant-x"));
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

ConnectionConfig Conn(std::string name, std::string url, bool named,
                      std::vector<std::string> accounts = {}) {
  ConnectionConfig c(std::move(name), {std::move(url)}, named);
  c.accounts = std::move(accounts);
  return c;
}

// Migrated triggers carry KEDA's `account`. Each row: the connections (with the accounts they
// declare via --nats-account) and the selecting keys -> the connection read, or
// INVALID_ARGUMENT with the text the message must carry.
struct SelectCase {
  const char* name;
  std::vector<ConnectionConfig> connections;
  std::optional<std::string> account;
  std::optional<std::string> connection;
  std::optional<std::string> url;
  const char* selected;       // nullptr: INVALID_ARGUMENT
  const char* error_contains = "";
};

class AccountSelectionTest : public ::testing::TestWithParam<SelectCase> {};

TEST_P(AccountSelectionTest, SelectsOrRefusesWithTheReason) {
  const SelectCase& c = GetParam();
  TriggerMetadata md = Md(c.account, c.url);
  md.connection = c.connection;
  auto got = ConnectionSelector(c.connections).Select(md);
  if (c.selected == nullptr) {
    ASSERT_FALSE(got.ok()) << c.name << " selected " << *got;
    EXPECT_EQ(got.status().code(), StatusCode::kInvalidArgument) << c.name;
    EXPECT_THAT(got.status().message(), HasSubstr(c.error_contains)) << c.name;
  } else {
    ASSERT_TRUE(got.ok()) << c.name << ": " << got.status().ToString();
    EXPECT_EQ(*got, c.selected) << c.name;
  }
}

const auto kNone = std::nullopt;
const ConnectionConfig kDefault = Conn("default", "nats://a:4222", false);
const ConnectionConfig kOrders = Conn("orders", "nats://b:4222", true);
const ConnectionConfig kOrdersAcct = Conn("orders", "nats://b:4222", true, {"ORDERS_ACCT", "LEGACY"});

INSTANTIATE_TEST_SUITE_P(
    Table, AccountSelectionTest,
    ::testing::Values(
        // Only the default connection: `account` is accepted and not checked...
        SelectCase{"default_only_unchecked", {kDefault}, "$G", kNone, kNone, "default"},
        // ...unless the operator declared the default connection's accounts.
        SelectCase{"default_declares_it", {Conn("default", "nats://a:4222", false, {"APP"})},
                   "APP", kNone, kNone, "default"},
        SelectCase{"default_declares_others", {Conn("default", "nats://a:4222", false, {"APP"})},
                   "OTHER", kNone, kNone, nullptr, "not an account of connection \"default\""},
        // Named connections: a declared account selects its connection.
        SelectCase{"declared_selects", {kDefault, kOrdersAcct}, "LEGACY", kNone, kNone, "orders"},
        SelectCase{"declared_on_default_beside_named",
                   {Conn("default", "nats://a:4222", false, {"SHARED"}), kOrders}, "SHARED",
                   kNone, kNone, "default"},
        SelectCase{"connection_name_still_selects", {kDefault, kOrders}, "orders", kNone, kNone,
                   "orders"},
        SelectCase{"declared_wins_over_a_name",
                   {Conn("default", "nats://a:4222", false, {"orders"}), kOrders}, "orders",
                   kNone, kNone, "default"},
        SelectCase{"unknown_account_alone", {kDefault, kOrdersAcct}, "B", kNone, kNone, nullptr,
                   "--nats-account CONNECTION=B"},
        SelectCase{"no_account_reads_default", {kDefault, kOrdersAcct}, kNone, kNone, kNone,
                   "default"},
        // `connection` selects by name.
        SelectCase{"connection_selects", {kDefault, kOrders}, kNone, "orders", kNone, "orders"},
        SelectCase{"connection_default", {kDefault, kOrders}, kNone, "default", kNone, "default"},
        SelectCase{"connection_unknown", {kDefault, kOrders}, kNone, "eu", kNone, nullptr,
                   "\"connection\"=\"eu\" does not name a connection"},
        // `connection` and `account` together: they must agree...
        SelectCase{"agree_declared", {kDefault, kOrdersAcct}, "ORDERS_ACCT", "orders", kNone,
                   "orders"},
        SelectCase{"conflict_declared", {kDefault, kOrdersAcct}, "ORDERS_ACCT", "default", kNone,
                   nullptr, "select different connections"},
        SelectCase{"conflict_by_name", {kDefault, kOrders}, "orders", "default", kNone, nullptr,
                   "select different connections"},
        // ...an undeclared account is refused by a connection that declares accounts...
        SelectCase{"undeclared_on_declaring_connection", {kDefault, kOrdersAcct}, "OTHER",
                   "orders", kNone, nullptr, "not an account of connection \"orders\""},
        // ...and not checked on one that declares none.
        SelectCase{"undeclared_on_plain_connection", {kDefault, kOrdersAcct}, "OTHER", "default",
                   kNone, "default"},
        // natsUrl takes part in the same agreement.
        SelectCase{"url_agrees_with_account", {kDefault, kOrdersAcct}, "LEGACY", kNone,
                   "nats://b:4222", "orders"},
        SelectCase{"url_conflicts_with_account", {kDefault, kOrdersAcct}, "LEGACY", kNone,
                   "nats://a:4222", nullptr, "select different connections"},
        SelectCase{"url_conflicts_with_connection", {kDefault, kOrders}, kNone, "orders",
                   "nats://a:4222", nullptr, "\"connection\"=\"orders\" and \"natsUrl\""}),
    [](const auto& row) { return std::string(row.param.name); });

}  // namespace
}  // namespace jss::core
