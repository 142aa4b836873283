#include "jss/app/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

namespace jss::app {
namespace {

using ::testing::HasSubstr;

struct FakeEnv {
  std::map<std::string, std::string> vars;
  std::map<std::string, std::string> files;

  Environment Get() const {
    Environment env;
    env.get_env = [this](const std::string& n) -> std::optional<std::string> {
      auto it = vars.find(n);
      if (it == vars.end()) return std::nullopt;
      return it->second;
    };
    env.read_file = [this](const std::string& p) -> core::StatusOr<std::string> {
      auto it = files.find(p);
      if (it == files.end()) return core::InvalidArgumentError("cannot read file \"" + p + "\"");
      return it->second;
    };
    return env;
  }
};

core::StatusOr<Config> Parse(std::vector<std::string> args, const FakeEnv& env = {}) {
  return ParseConfig(args, env.Get());
}

TEST(ConfigTest, Defaults) {
  auto c = Parse({});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->grpc_address, "0.0.0.0:6000");
  EXPECT_EQ(c->metrics_address, "0.0.0.0:8080");
  ASSERT_EQ(c->connections.size(), 1u);
  EXPECT_EQ(c->connections[0].name, "default");
  EXPECT_THAT(c->connections[0].servers, ::testing::ElementsAre("nats://127.0.0.1:4222"));
  EXPECT_EQ(c->request_timeout, std::chrono::milliseconds(2000));
  EXPECT_EQ(c->lag_cache_ttl, std::chrono::milliseconds(1000));
  EXPECT_EQ(c->log_format, "text");
}

TEST(ConfigTest, PushIdleResyncAndReadRate) {
  auto defaults = Parse({});
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->push_idle_resync, std::chrono::seconds(30));
  EXPECT_EQ(defaults->push_read_rate, 2000);
  FakeEnv env;
  env.vars["JETSTREAM_SCALER_PUSH_READ_RATE"] = "0";
  auto c = Parse({"--push-idle-resync", "2m"}, env);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->push_idle_resync, std::chrono::minutes(2));
  EXPECT_EQ(c->push_read_rate, 0) << "0 = unlimited";
  const struct {
    std::vector<std::string> args;
    const char* names;
  } bad[] = {{{"--push-idle-resync", "100ms"}, "--push-idle-resync"},
             {{"--push-idle-resync", "2h"}, "--push-idle-resync"},
             {{"--push-read-rate", "-1"}, "--push-read-rate"},
             {{"--push-read-rate", "fast"}, "--push-read-rate"}};
  for (const auto& b : bad) {
    auto r = Parse(b.args);
    ASSERT_FALSE(r.ok()) << b.args[1];
    EXPECT_THAT(r.status().message(), HasSubstr(b.names));
  }
}

TEST(ConfigTest, NamedAndUnnamedConnections) {
  auto c = Parse({"--nats-url", "nats://a:4222", "--nats-url=nats://b:4222",
                  "--nats-url", "tenant-b=nats://c:4222,nats://d:4222"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->connections.size(), 2u);
  EXPECT_EQ(c->connections[0].name, "default");
  EXPECT_THAT(c->connections[0].servers, ::testing::ElementsAre("nats://a:4222", "nats://b:4222"));
  EXPECT_EQ(c->connections[1].name, "tenant-b");
  EXPECT_TRUE(c->connections[1].named);
  EXPECT_THAT(c->connections[1].servers, ::testing::ElementsAre("nats://c:4222", "nats://d:4222"));
}

TEST(ConfigTest, EnvironmentProvidesDefaultsAndFlagsWin) {
  FakeEnv env;
  env.vars["JETSTREAM_SCALER_NATS_URL"] = "nats://env-a:4222 b=nats://env-b:4222";
  env.vars["JETSTREAM_SCALER_REQUEST_TIMEOUT"] = "500ms";
  env.vars["JETSTREAM_SCALER_LOG_FORMAT"] = "json";
  auto c = Parse({"--log-format", "text"}, env);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->connections.size(), 2u);
  EXPECT_EQ(c->request_timeout, std::chrono::milliseconds(500));
  EXPECT_EQ(c->log_format, "text");
}

TEST(ConfigTest, SecretsComeFromFilesOrEnvironment) {
  FakeEnv env;
  env.files["/run/secrets/token"] = "s3cr3t\n";
  env.vars["JETSTREAM_SCALER_NATS_PASSWORD"] = "pw";
  auto c = Parse({"--nats-token-file", "/run/secrets/token", "--nats-user", "u"}, env);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->nats_default_auth.token, "s3cr3t");
  EXPECT_EQ(c->nats_default_auth.password, "pw");
}

TEST(ConfigTest, NamedConnectionsTakeTheirOwnAuthAndInheritTheRest) {
  FakeEnv env;
  env.files["/s/eu-token"] = "eu-secret\n";
  env.files["/s/us-password"] = "us-pw";
  auto c = Parse({"--nats-url", "nats://local:4222", "--nats-url", "eu=tls://eu:4222",
                  "--nats-url", "us=nats://us:4222", "--nats-tls-ca", "/ca/shared.pem",
                  "--nats-creds", "/c/default.creds", "--nats-token-file", "eu=/s/eu-token",
                  "--nats-creds", "eu=/c/eu.creds", "--nats-user", "us=scaler",
                  "--nats-password-file", "us=/s/us-password", "--nats-tls-ca",
                  "us=/ca/us.pem"},
                 env);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  struct Expect {
    const char* connection;
    const char* creds;
    const char* token;
    const char* user;
    const char* password;
    const char* ca;
  };
  const Expect table[] = {
      {"default", "/c/default.creds", "", "", "", "/ca/shared.pem"},
      {"eu", "/c/eu.creds", "eu-secret", "", "", "/ca/shared.pem"},
      {"us", "/c/default.creds", "", "scaler", "us-pw", "/ca/us.pem"},
  };
  ASSERT_EQ(c->nats_auth.size(), 3u);
  for (const auto& e : table) {
    const NatsAuth& a = c->nats_auth.at(e.connection);
    EXPECT_EQ(a.creds_file, e.creds) << e.connection;
    EXPECT_EQ(a.token, e.token) << e.connection;
    EXPECT_EQ(a.user, e.user) << e.connection;
    EXPECT_EQ(a.password, e.password) << e.connection;
    EXPECT_EQ(a.tls_ca_file, e.ca) << e.connection;
  }
}

TEST(ConfigTest, AnEqualsSignInAPathIsNotAConnectionName) {
  auto c = Parse({"--nats-creds", "/odd=dir/user.creds"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->nats_auth.at("default").creds_file, "/odd=dir/user.creds");
}

struct BadFlags {
  const char* name;
  std::vector<std::string> args;
  const char* message_part;
};

class ConfigRejectsTest : public ::testing::TestWithParam<BadFlags> {};

TEST_P(ConfigRejectsTest, WithAMessageNamingTheFlag) {
  auto c = Parse(GetParam().args);
  ASSERT_FALSE(c.ok()) << GetParam().name;
  EXPECT_EQ(c.status().code(), core::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr(GetParam().message_part)) << GetParam().name;
}

INSTANTIATE_TEST_SUITE_P(
    Table, ConfigRejectsTest,
    ::testing::Values(
        BadFlags{"unknown_flag", {"--frobnicate"}, "unknown flag --frobnicate"},
        BadFlags{"positional", {"serve"}, "unexpected argument"},
        BadFlags{"missing_value", {"--grpc-address"}, "--grpc-address: needs a value"},
        BadFlags{"bad_address", {"--grpc-address", "6000"}, "not HOST:PORT"},
        BadFlags{"bad_port", {"--metrics-address", "x:99999"}, "not HOST:PORT"},
        BadFlags{"bad_url", {"--nats-url", "http://x:4222"}, "not a NATS URL"},
        BadFlags{"bad_name", {"--nats-url", "bad name=nats://x:1"}, "connection name"},
        BadFlags{"password_in_url", {"--nats-url", "nats://u:secret@x:4222"},
                 "credentials inside the URL"},
        BadFlags{"token_in_named_url", {"--nats-url", "eu=nats://x:1,tls://tok@y:2"},
                 "credentials inside the URL"},
        BadFlags{"dup_name", {"--nats-url", "a=nats://x:1", "--nats-url", "a=nats://y:1"},
                 "given twice"},
        BadFlags{"bad_timeout", {"--request-timeout", "2"}, "--request-timeout"},
        BadFlags{"timeout_too_small", {"--request-timeout", "1ms"}, "between"},
        BadFlags{"bad_ttl", {"--lag-cache-ttl", "-1s"}, "--lag-cache-ttl"},
        BadFlags{"bad_level", {"--log-level", "loud"}, "--log-level"},
        BadFlags{"bad_format", {"--log-format", "xml"}, "--log-format"},
        BadFlags{"token_on_cli", {"--nats-token", "abc"}, "not accepted on the command line"},
        BadFlags{"password_on_cli", {"--nats-password=abc"}, "not accepted on the command line"},
        BadFlags{"missing_token_file", {"--nats-token-file", "/nope"}, "cannot read file"},
        BadFlags{"half_tls", {"--grpc-tls-cert", "/c"}, "go together"},
        BadFlags{"client_ca_without_tls", {"--grpc-tls-client-ca", "/ca"}, "need TLS"},
        BadFlags{"switch_with_value", {"--help=yes"}, "takes no value"},
        BadFlags{"repeated_single", {"--log-level", "info", "--log-level", "debug"},
                 "more than once"},
        BadFlags{"repeated_default_auth", {"--nats-creds", "/a", "--nats-creds", "/b"},
                 "prefix NAME="},
        BadFlags{"repeated_named_auth",
                 {"--nats-url", "eu=nats://x:1", "--nats-creds", "eu=/a", "--nats-creds", "eu=/b"},
                 "more than once for connection \"eu\""},
        BadFlags{"named_nkey_without_seed",
                 {"--nats-url", "eu=nats://x:1", "--nats-nkey", "eu=UABC"},
                 "connection \"eu\""},
        BadFlags{"nkey_without_seed", {"--nats-nkey", "UABC"}, "go together"},
        BadFlags{"nkey_seed_as_public_key",
                 {"--nats-nkey", "SUAEXAMPLESEED", "--nats-nkey-seed-file", "/s"},
                 "not its seed (S...)"},
        BadFlags{"bad_max_streams", {"--max-streams", "0"}, "--max-streams"},
        BadFlags{"client_name_without_ca", {"--grpc-tls-client-name", "keda"},
                 "set --grpc-tls-client-ca"},
        BadFlags{"push_floor_too_low", {"--min-push-interval", "1ms"}, "--min-push-interval"},
        BadFlags{"half_nats_tls_named",
                 {"--nats-url", "eu=nats://x:1", "--nats-tls-cert", "eu=/c"}, "go together"},
        BadFlags{"account_without_connection", {"--nats-account", "ORDERS"},
                 "CONNECTION=ACCOUNT"},
        BadFlags{"account_empty_connection", {"--nats-account", "=ORDERS"}, "CONNECTION=ACCOUNT"},
        BadFlags{"account_unknown_connection", {"--nats-account", "eu=ORDERS"},
                 "no connection named \"eu\""},
        BadFlags{"account_on_two_connections",
                 {"--nats-url", "nats://a:1", "--nats-url", "eu=nats://x:1", "--nats-account",
                  "default=A",
                  "--nats-account", "eu=B,A"},
                 "account \"A\" is declared for connections \"default\" and \"eu\""},
        BadFlags{"account_twice_on_one_connection", {"--nats-account", "default=A,A"},
                 "declared for connections \"default\" and \"default\""},
        BadFlags{"account_connection_twice",
                 {"--nats-account", "default=A", "--nats-account", "default=B"},
                 "more than once for connection \"default\""},
        BadFlags{"account_no_default_connection",
                 {"--nats-url", "eu=nats://x:1", "--nats-account", "default=A"},
                 "there is no unnamed connection"},
        BadFlags{"account_empty_list", {"--nats-account", "default=, ,"}, "names no account"},
        BadFlags{"account_inner_space", {"--nats-account", "default=A B"},
                 "\"A B\" is not an account name"},
        BadFlags{"domain_with_dot", {"--nats-js-domain", "a.b"}, "--nats-js-domain"},
        BadFlags{"domain_wildcard_named",
                 {"--nats-url", "eu=nats://x:1", "--nats-js-domain", "eu=*"},
                 "connection \"eu\""},
        BadFlags{"domain_twice", {"--nats-js-domain", "a", "--nats-js-domain", "b"},
                 "prefix NAME="},
        BadFlags{"age_too_short", {"--grpc-max-connection-age", "100ms"}, "0 (off) or between"},
        BadFlags{"age_too_long", {"--grpc-max-connection-age", "48h"},
                 "--grpc-max-connection-age"},
        BadFlags{"keepalive_too_short", {"--grpc-keepalive-time", "1s"}, "0 (off) or between"},
        BadFlags{"goaway_too_short", {"--grpc-goaway-after-nats-down", "500ms"},
                 "--grpc-goaway-after-nats-down"},
        BadFlags{"goaway_too_long", {"--grpc-goaway-after-nats-down", "2h"},
                 "--grpc-goaway-after-nats-down"},
        BadFlags{"shutdown_timeout_too_short", {"--shutdown-timeout", "500ms"},
                 "--shutdown-timeout"},
        BadFlags{"shutdown_timeout_too_long", {"--shutdown-timeout", "6m"}, "--shutdown-timeout"},
        BadFlags{"ready_when_unknown", {"--ready-when", "most"}, "--ready-when"},
        BadFlags{"keepalive_not_duration", {"--grpc-keepalive-time", "often"},
                 "--grpc-keepalive-time"}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

// Issue 21 item 8: combinations that were accepted (or answered with a secret
// in the message), each refused naming what to fix.
struct BadSetup {
  const char* name;
  std::vector<std::string> args;
  std::map<std::string, std::string> env;
  std::vector<const char*> names;  // every one in the message
  const char* secret;              // never in the message (nullptr: none)
};

class ConfigRefusesSetupTest : public ::testing::TestWithParam<BadSetup> {};

TEST_P(ConfigRefusesSetupTest, NamingBothSidesAndNoSecret) {
  const BadSetup& b = GetParam();
  FakeEnv env;
  env.vars = b.env;
  env.files["/s/token"] = "file-token";
  auto c = Parse(b.args, env);
  ASSERT_FALSE(c.ok()) << b.name;
  EXPECT_EQ(c.status().code(), core::StatusCode::kInvalidArgument) << b.name;
  for (const char* part : b.names) {
    EXPECT_THAT(c.status().message(), HasSubstr(part)) << b.name;
  }
  if (b.secret != nullptr) {
    EXPECT_THAT(c.status().message(), ::testing::Not(HasSubstr(b.secret))) << b.name;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, ConfigRefusesSetupTest,
    ::testing::Values(
        BadSetup{"empty_nats_url_variable", {}, {{"JETSTREAM_SCALER_NATS_URL", ""}},
                 {"JETSTREAM_SCALER_NATS_URL", "empty"}, nullptr},
        BadSetup{"blank_nats_url_variable", {}, {{"JETSTREAM_SCALER_NATS_URL", "  "}},
                 {"JETSTREAM_SCALER_NATS_URL", "--nats-url"}, nullptr},
        BadSetup{"empty_list_variable", {}, {{"JETSTREAM_SCALER_NATS_ACCOUNT", ""}},
                 {"JETSTREAM_SCALER_NATS_ACCOUNT"}, nullptr},
        BadSetup{"token_file_and_token_variable",
                 {"--nats-token-file", "/s/token"},
                 {{"JETSTREAM_SCALER_NATS_TOKEN", "env-token"}},
                 {"--nats-token-file", "JETSTREAM_SCALER_NATS_TOKEN", "keep one"},
                 "env-token"},
        BadSetup{"token_file_variable_and_token_variable",
                 {},
                 {{"JETSTREAM_SCALER_NATS_TOKEN_FILE", "/s/token"},
                  {"JETSTREAM_SCALER_NATS_TOKEN", "env-token"}},
                 {"JETSTREAM_SCALER_NATS_TOKEN_FILE", "JETSTREAM_SCALER_NATS_TOKEN"},
                 "file-token"},
        BadSetup{"password_file_and_password_variable",
                 {"--nats-user", "u", "--nats-password-file", "/s/token"},
                 {{"JETSTREAM_SCALER_NATS_PASSWORD", "env-pw"}},
                 {"--nats-password-file", "JETSTREAM_SCALER_NATS_PASSWORD"},
                 "env-pw"},
        BadSetup{"one_url_in_two_connections",
                 {"--nats-url", "nats://a:4222", "--nats-url", "eu=nats://b:4222,nats://a:4222/"},
                 {},
                 {"\"default\"", "\"eu\"", "nats://a:4222"},
                 nullptr},
        BadSetup{"one_url_in_two_named_connections",
                 {"--nats-url", "x=nats://a:4222", "--nats-url", "y=nats://a:4222"},
                 {},
                 {"\"x\"", "\"y\"", "--nats-account"},
                 nullptr},
        BadSetup{"one_url_two_connections_one_account",
                 {"--nats-url", "nats://a:4222", "--nats-url", "eu=nats://a:4222",
                  "--nats-account", "eu=EU"},
                 {},
                 {"\"default\"", "\"eu\""},
                 nullptr},
        BadSetup{"query_in_url", {"--nats-url", "nats://h:4222?token=s3cret"}, {},
                 {"--nats-url", "query", "nats://h:4222?REDACTED"}, "s3cret"},
        BadSetup{"query_in_named_url", {"--nats-url", "eu=tls://h:4222/?token=s3cret"}, {},
                 {"--nats-url", "query"}, "s3cret"},
        BadSetup{"fragment_in_url", {"--nats-url", "nats://h:4222#s3cret"}, {},
                 {"--nats-url", "fragment"}, "s3cret"},
        BadSetup{"query_in_url_from_variable", {},
                 {{"JETSTREAM_SCALER_NATS_URL", "nats://h:p?token=s3cret"}},
                 {"--nats-url", "query"}, "s3cret"},
        BadSetup{"userinfo_in_a_bad_scheme", {"--nats-url", "http://u:s3cret@h:4222"}, {},
                 {"not a NATS URL", "http://REDACTED@h:4222"}, "s3cret"},
        BadSetup{"userinfo_before_a_query", {"--nats-url", "nats://tok@h:4222?x=s3cret"}, {},
                 {"credentials inside the URL"}, "s3cret"}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(ConfigTest, OneServerServesTwoConnectionsThatDeclareTheirAccounts) {
  // Two users of one NATS system, each in its own account (the migration case).
  auto c = Parse({"--nats-url", "nats://a:4222", "--nats-url", "orders=nats://a:4222",
                  "--nats-account", "default=BILLING", "--nats-account", "orders=ORDERS"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->connections.size(), 2u);
}

TEST(ConfigTest, ANamedConnectionsTokenFileMayOverrideTheTokenVariable) {
  FakeEnv env;
  env.vars["JETSTREAM_SCALER_NATS_TOKEN"] = "env-token";
  env.files["/s/eu"] = "eu-token";
  auto c = Parse({"--nats-url", "nats://a:4222", "--nats-url", "eu=nats://b:4222",
                  "--nats-token-file", "eu=/s/eu"},
                 env);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->nats_auth.at("default").token, "env-token");
  EXPECT_EQ(c->nats_auth.at("eu").token, "eu-token");
}

TEST(ConfigTest, JetStreamDomainIsPerConnectionWithADefault) {
  auto c = Parse({"--nats-url", "nats://a:1", "--nats-url", "leaf=nats://b:1", "--nats-url",
                  "edge=nats://c:1", "--nats-js-domain", "hub", "--nats-js-domain",
                  "edge=edge-hub"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->connections.size(), 3u);
  EXPECT_EQ(c->nats_auth.at("default").js_domain, "hub");
  EXPECT_EQ(c->nats_auth.at("leaf").js_domain, "hub");
  EXPECT_EQ(c->nats_auth.at("edge").js_domain, "edge-hub");
  auto none = Parse({});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->nats_auth.at("default").js_domain, "");
}

// Each connection declares the NATS accounts its credentials act in; trigger metadata
// `account` (as migrated from KEDA's nats-jetstream scaler) then selects it.
TEST(ConfigTest, AccountsAreDeclaredPerConnection) {
  auto c = Parse({"--nats-url", "nats://a:1", "--nats-url", "orders=nats://b:1",
                  "--nats-account", "default=SHARED", "--nats-account",
                  "orders= ORDERS_ACCT ,LEGACY"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->connections.size(), 2u);
  EXPECT_THAT(c->connections[0].accounts, ::testing::ElementsAre("SHARED"));
  EXPECT_THAT(c->connections[1].accounts, ::testing::ElementsAre("ORDERS_ACCT", "LEGACY"));

  FakeEnv env;
  env.vars["JETSTREAM_SCALER_NATS_URL"] = "nats://a:1 orders=nats://b:1";
  env.vars["JETSTREAM_SCALER_NATS_ACCOUNT"] = "default=A,B orders=C";
  auto from_env = Parse({}, env);
  ASSERT_TRUE(from_env.ok()) << from_env.status().ToString();
  EXPECT_THAT(from_env->connections[0].accounts, ::testing::ElementsAre("A", "B"));
  EXPECT_THAT(from_env->connections[1].accounts, ::testing::ElementsAre("C"));

  auto none = Parse({});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->connections[0].accounts.empty());
  EXPECT_THAT(HelpText(), HasSubstr("JETSTREAM_SCALER_NATS_ACCOUNT"));
}

TEST(ConfigTest, GrpcConnectionAgeAndKeepalive) {
  auto defaults = Parse({});
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->grpc_max_connection_age, std::chrono::minutes(5));
  EXPECT_EQ(defaults->grpc_keepalive_time, std::chrono::seconds(60));
  auto set = Parse({"--grpc-max-connection-age", "90s", "--grpc-keepalive-time", "0"});
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(set->grpc_max_connection_age, std::chrono::seconds(90));
  EXPECT_EQ(set->grpc_keepalive_time, std::chrono::milliseconds(0));
  auto off = Parse({"--grpc-max-connection-age", "0s"});
  ASSERT_TRUE(off.ok()) << off.status().ToString();
  EXPECT_EQ(off->grpc_max_connection_age, std::chrono::milliseconds(0));
  EXPECT_EQ(defaults->grpc_goaway_after_nats_down, std::chrono::seconds(30));
  auto goaway = Parse({"--grpc-goaway-after-nats-down", "0"});
  ASSERT_TRUE(goaway.ok()) << goaway.status().ToString();
  EXPECT_EQ(goaway->grpc_goaway_after_nats_down, std::chrono::milliseconds(0));
  FakeEnv env;
  env.vars["JETSTREAM_SCALER_GRPC_GOAWAY_AFTER_NATS_DOWN"] = "2m";
  auto from_env = Parse({}, env);
  ASSERT_TRUE(from_env.ok()) << from_env.status().ToString();
  EXPECT_EQ(from_env->grpc_goaway_after_nats_down, std::chrono::minutes(2));
}

TEST(ConfigTest, ShutdownTimeoutAndReadyWhen) {
  auto defaults = Parse({});
  ASSERT_TRUE(defaults.ok()) << defaults.status().ToString();
  EXPECT_EQ(defaults->shutdown_timeout, std::chrono::seconds(15));
  EXPECT_EQ(defaults->ready_when, "any");
  auto set = Parse({"--shutdown-timeout", "3s", "--ready-when", "all"});
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(set->shutdown_timeout, std::chrono::seconds(3));
  EXPECT_EQ(set->ready_when, "all");
}

TEST(ConfigTest, HelpListsEveryFlagWithItsEnvironmentVariable) {
  const std::string help = HelpText();
  for (const char* flag : {"--grpc-address", "--metrics-address", "--nats-url", "--nats-creds",
                           "--request-timeout", "--lag-cache-ttl", "--log-level", "--log-format"}) {
    EXPECT_THAT(help, HasSubstr(flag));
  }
  EXPECT_THAT(help, HasSubstr("JETSTREAM_SCALER_NATS_URL"));
  EXPECT_EQ(EnvVarFor("request-timeout"), "JETSTREAM_SCALER_REQUEST_TIMEOUT");
}

TEST(ConfigTest, HelpShowsEachDefaultAndRangeFromTheirOneDefinition) {
  const std::string help = HelpText();
  const Config defaults;
  EXPECT_THAT(help, HasSubstr("(10ms-5m, default 2s)"));
  EXPECT_THAT(help, HasSubstr("(100ms-1h, default 250ms)"));
  EXPECT_THAT(help, HasSubstr("(1-1000000, default " + std::to_string(defaults.max_in_flight)));
  EXPECT_THAT(help, HasSubstr("trace, debug, info, warn, error (default info)"));
  EXPECT_THAT(help, HasSubstr(std::string("(default ") + kDefaultNatsUrl + ")"));
}

TEST(ConfigTest, EnvironmentValuesGetTheSameChecksAsFlags) {
  FakeEnv env;
  env.vars["JETSTREAM_SCALER_PUSH_INTERVAL"] = "10ms";
  auto c = Parse({}, env);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("--push-interval: \"10ms\" must be between 100ms and 1h"));
}

TEST(ConfigTest, AnEmptyPasswordFileIsRefusedLikeAnEmptyTokenFile) {
  FakeEnv env;
  env.files["/s/pw"] = "\n";
  auto c = Parse({"--nats-user", "u", "--nats-password-file", "/s/pw"}, env);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("--nats-password-file: the file \"/s/pw\" is empty"));
}

TEST(ConfigTest, HelpWinsOverOtherSwitchesAndSkipsTheEnvironment) {
  FakeEnv env;
  env.vars["JETSTREAM_SCALER_LOG_FORMAT"] = "yaml";
  auto c = Parse({"--version", "--help"}, env);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->action, Action::kHelp);
}

}  // namespace
}  // namespace jss::app
