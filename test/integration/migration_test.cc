// Migration from KEDA's built-in nats-jetstream scaler: a trigger as it was written for the
// built-in (with `account`, `natsServerMonitoringEndpoint` and padded values) reads the
// consumer of the right NATS account once the operator declares which connection serves that
// account (--nats-account). A real nats-server with two accounts, each holding a stream of the
// same name with a different backlog, tells the accounts apart.
#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "integration/scaler_fixture.h"
#include "jss/app/config.h"

namespace jss::testing {
namespace {

using ::testing::HasSubstr;

class MigrationTest : public ScalerFixture {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("jss-migration-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    // Unauthenticated clients (the fixture's admin) land in BILLING.
    std::ofstream(dir_ / "nats.conf") << R"(
accounts {
  ORDERS_ACCT { jetstream: enabled, users: [ { user: orders, password: orders-pw } ] }
  BILLING { jetstream: enabled, users: [ { user: billing, password: billing-pw } ] }
}
no_auth_user: billing
)";
    std::ofstream(dir_ / "orders.pw") << "orders-pw\n";
    std::ofstream(dir_ / "billing.pw") << "billing-pw\n";
    nats_options_.extra_args = {"-c", (dir_ / "nats.conf").string()};
    ScalerFixture::SetUp();
    if (HasFatalFailure()) return;
    // The same stream name in both accounts: 3 waiting in ORDERS_ACCT, 7 in BILLING.
    CreateStream("JOBS", "jobs.>", "workers");
    ASSERT_TRUE(admin_->Publish("jobs.x", 7).ok());
    const std::string orders_url =
        "nats://orders:orders-pw@127.0.0.1:" + std::to_string(nats_->port());
    auto orders = tools::JetStreamAdmin::Connect(orders_url);
    ASSERT_TRUE(orders.ok()) << orders.status().ToString();
    ASSERT_TRUE((*orders)->AddStream({"JOBS", {"jobs.>"}}).ok());
    ASSERT_TRUE((*orders)->AddConsumer({"JOBS", "workers", ""}).ok());
    ASSERT_TRUE((*orders)->Publish("jobs.x", 3).ok());
  }

  void TearDown() override {
    ScalerFixture::TearDown();
    std::filesystem::remove_all(dir_);
  }

  // Two connections to the one server, as two users: "default" in BILLING and "orders" in
  // ORDERS_ACCT, each declaring its account - parsed from flags like the binary does.
  void StartWithDeclaredAccounts() {
    auto parsed = app::ParseConfig(
        {"--nats-url", nats_->url(), "--nats-url", "orders=" + nats_->url(),
         "--nats-user", "billing", "--nats-password-file", (dir_ / "billing.pw").string(),
         "--nats-user", "orders=orders", "--nats-password-file",
         "orders=" + (dir_ / "orders.pw").string(),
         "--nats-account", "orders=ORDERS_ACCT", "--nats-account", "default=BILLING"},
        app::Environment::Process());
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    StartScaler([&](app::Config& c) {
      c.connections = parsed->connections;
      c.nats_auth = parsed->nats_auth;
    });
  }

  std::filesystem::path dir_;
};

TEST_F(MigrationTest, ABuiltInTriggerReadsTheConsumerOfItsAccount) {
  StartWithDeclaredAccounts();
  // As written for `type: nats-jetstream`, values padded the way YAML templating leaves them.
  const auto migrated = Md("JOBS", "workers",
                           {{"natsServerMonitoringEndpoint", "nats.nats.svc.cluster.local:8222"},
                            {"account", " ORDERS_ACCT "},
                            {"lagThreshold", " 5 "},
                            {"activationLagThreshold", " 2"}});
  auto spec = client_->GetMetricSpec(migrated);
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->target_size, 5);
  auto value = client_->GetMetrics(migrated, spec->metric_name);
  ASSERT_TRUE(value.ok()) << value.status().ToString();
  EXPECT_EQ(value->value, 3);
  auto active = client_->IsActive(migrated);
  ASSERT_TRUE(active.ok()) << active.status().ToString();
  EXPECT_TRUE(*active);  // 3 > 2

  // accountID is the same key; the other account's backlog is 7.
  auto billing = client_->GetMetrics(Md("JOBS", "workers", {{"accountID", "BILLING"}}), "");
  ASSERT_TRUE(billing.ok()) << billing.status().ToString();
  EXPECT_EQ(billing->value, 7);
  // No account: the default connection.
  auto plain = client_->GetMetrics(Md("JOBS", "workers"), "");
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_EQ(plain->value, 7);
  // `connection` agreeing with `account` is fine.
  auto agreeing = client_->GetMetrics(
      Md("JOBS", "workers", {{"connection", "orders"}, {"account", "ORDERS_ACCT"}}), "");
  ASSERT_TRUE(agreeing.ok()) << agreeing.status().ToString();
  EXPECT_EQ(agreeing->value, 3);
}

TEST_F(MigrationTest, AnAccountNoConnectionServesIsRefusedBeforeAnyRead) {
  StartWithDeclaredAccounts();
  auto unknown = client_->GetMetrics(Md("JOBS", "workers", {{"account", "$G"}}), "");
  EXPECT_EQ(unknown.status().code(), core::StatusCode::kInvalidArgument);
  EXPECT_THAT(unknown.status().message(), HasSubstr("--nats-account"));
  auto conflicting = client_->GetMetrics(
      Md("JOBS", "workers", {{"connection", "orders"}, {"account", "BILLING"}}), "");
  EXPECT_EQ(conflicting.status().code(), core::StatusCode::kInvalidArgument);
  EXPECT_THAT(conflicting.status().message(), HasSubstr("select different connections"));
}

// With only the default connection and no declaration, `account` is carried but not checked:
// the connection's credentials decide the account.
TEST_F(MigrationTest, WithOnlyTheDefaultConnectionTheAccountIsNotChecked) {
  StartScaler();  // unauthenticated: no_auth_user puts it in BILLING
  auto value = client_->GetMetrics(Md("JOBS", "workers", {{"account", "ORDERS_ACCT"}}), "");
  ASSERT_TRUE(value.ok()) << value.status().ToString();
  EXPECT_EQ(value->value, 7);
}

}  // namespace
}  // namespace jss::testing
