// Access policy and gRPC TLS against a real nats-server over real gRPC.
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/credentials.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "integration/scaler_fixture.h"

namespace jss::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// A private directory, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/jss-sec-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void WriteFile(const std::string& path, const std::string& content) {
  // Write then rename: readers (the policy reloader, gRPC's certificate
  // watcher, like a kubelet updating a mounted Secret) never see half a file.
  const std::string tmp = path + ".tmp";
  std::ofstream(tmp) << content;
  fs::rename(tmp, path);
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

bool Run(const std::string& command) {
  return std::system((command + " >/dev/null 2>&1").c_str()) == 0;
}

// A CA and certificates issued by it, made with the openssl CLI.
class TestCa {
 public:
  TestCa(const TempDir& dir, const std::string& name) : dir_(dir), name_(name) {
    ok_ = Run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
              "-subj /CN=" + name + " -keyout " + dir_ / (name + ".key") + " -out " +
              dir_ / (name + ".crt"));
  }
  bool ok() const { return ok_; }
  std::string cert_path() const { return dir_ / (name_ + ".crt"); }
  std::string cert() const { return ReadAll(cert_path()); }

  // Issues `leaf` (files leaf.crt/leaf.key) for localhost / 127.0.0.1.
  bool Issue(const std::string& leaf) const {
    const std::string ext = dir_ / (leaf + ".ext");
    std::ofstream(ext) << "subjectAltName=DNS:localhost,IP:127.0.0.1\n";
    return Run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=" +
               leaf + " -keyout " + dir_ / (leaf + ".key") + " -out " + dir_ / (leaf + ".csr")) &&
           Run("openssl x509 -req -days 2 -in " + dir_ / (leaf + ".csr") + " -CA " + cert_path() +
               " -CAkey " + dir_ / (name_ + ".key") + " -CAcreateserial -extfile " + ext +
               " -out " + dir_ / (leaf + ".crt"));
  }

 private:
  const TempDir& dir_;
  std::string name_;
  bool ok_ = false;
};

class SecurityTest : public ScalerFixture {
 protected:
  std::unique_ptr<externalscaler::ExternalScaler::Stub> TlsStub(
      const std::string& ca_pem, const std::string& client_cert = "",
      const std::string& client_key = "") {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ca_pem;
    ssl.pem_cert_chain = client_cert;
    ssl.pem_private_key = client_key;
    // A fresh channel (no shared subchannel) so each stub makes its own handshake.
    grpc::ChannelArguments args;
    args.SetInt("grpc.use_local_subchannel_pool", 1);
    return externalscaler::ExternalScaler::NewStub(grpc::CreateCustomChannel(
        "localhost:" + std::to_string(server_->grpc_port()), grpc::SslCredentials(ssl), args));
  }

  static grpc::Status Spec(externalscaler::ExternalScaler::Stub& stub) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
    externalscaler::GetMetricSpecResponse response;
    return stub.GetMetricSpec(&ctx, tools::MakeRef(Md("S", "c"), "so", "apps"), &response);
  }
};

TEST_F(SecurityTest, PolicyDeniesOtherNamespacesOnEveryRpcAndCountsThem) {
  CreateStream("ORDERS", "orders.>", "workers");
  TempDir dir;
  WriteFile(dir / "policy.json",
            R"({"rules": [{"namespaces": ["shop"], "streams": ["ORDERS"]}]})");
  StartScaler([&](app::Config& c) { c.policy_file = dir / "policy.json"; });
  auto md = Md("ORDERS", "workers");

  EXPECT_TRUE(client_->GetMetrics(md, "", "so", "shop").ok());
  EXPECT_TRUE(client_->IsActive(md, "so", "shop").ok());

  auto spec = client_->GetMetricSpec(md, "so", "billing");
  EXPECT_EQ(spec.status().code(), core::StatusCode::kPermissionDenied);
  EXPECT_THAT(spec.status().message(), HasSubstr("namespace \"billing\""));
  EXPECT_EQ(client_->GetMetrics(md, "", "so", "billing").status().code(),
            core::StatusCode::kPermissionDenied);
  EXPECT_EQ(client_->IsActive(md, "so", "billing").status().code(),
            core::StatusCode::kPermissionDenied);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  auto reader = client_->stub().StreamIsActive(&ctx, tools::MakeRef(md, "so", "billing"));
  externalscaler::IsActiveResponse msg;
  EXPECT_FALSE(reader->Read(&msg));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::PERMISSION_DENIED);

  // A denied namespace learns nothing about what exists: a missing consumer
  // is PERMISSION_DENIED too, not NOT_FOUND.
  EXPECT_EQ(client_->GetMetrics(Md("ORDERS", "ghost"), "", "so", "billing").status().code(),
            core::StatusCode::kPermissionDenied);
  EXPECT_EQ(ScrapeValue(Metrics(), "jetstream_scaler_policy_denials_total{scaledobject_namespace=\"billing\"}"),
            5);
}

// Issue 21 item 6: connection selection ran before the policy, so a denied
// namespace learned connection names (PERMISSION_DENIED naming the one its
// natsUrl matched, INVALID_ARGUMENT listing them all) and the policy file's
// path. Now it gets one answer whatever it sends, on every RPC.
TEST_F(SecurityTest, ADeniedNamespaceGetsOneGenericAnswerWhateverItSends) {
  CreateStream("ORDERS", "orders.>", "workers");
  TempDir dir;
  WriteFile(dir / "policy.json",
            R"({"rules": [{"namespaces": ["shop"], "connections": ["default"]}]})");
  StartScaler([&](app::Config& c) {
    c.policy_file = dir / "policy.json";
    c.connections = {{"default", {nats_->url()}, false},
                     {"secret-site", {"nats://127.0.0.1:1"}, true}};
  });
  const struct {
    const char* name;
    std::map<std::string, std::string> extra;
  } cases[] = {
      {"plain", {}},
      {"configured_nats_url", {{"natsUrl", "nats://127.0.0.1:1"}}},
      {"unknown_nats_url", {{"natsUrl", "nats://127.0.0.2:4222"}}},
      {"known_connection", {{"connection", "secret-site"}}},
      {"unknown_connection", {{"connection", "guess"}}},
      {"unknown_account", {{"account", "GUESS"}}},
      {"bad_metadata", {{"lagThreshold", "ten"}}},
  };
  std::string first;
  for (const auto& c : cases) {
    const auto md = Md("ORDERS", "workers", c.extra);
    const std::vector<core::Status> answers = {
        client_->GetMetricSpec(md, "so", "intruder").status(),
        client_->GetMetrics(md, "", "so", "intruder").status(),
        client_->IsActive(md, "so", "intruder").status()};
    for (const core::Status& s : answers) {
      EXPECT_EQ(s.code(), core::StatusCode::kPermissionDenied) << c.name << ": " << s.ToString();
      if (first.empty()) first = s.message();
      EXPECT_EQ(s.message(), first) << c.name;
      for (const char* leak : {"secret-site", "default", "127.0.0.1", "policy.json", "jss-sec"}) {
        EXPECT_THAT(s.message(), ::testing::Not(HasSubstr(leak))) << c.name;
      }
    }
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    auto reader = client_->stub().StreamIsActive(&ctx, tools::MakeRef(md, "so", "intruder"));
    externalscaler::IsActiveResponse msg;
    EXPECT_FALSE(reader->Read(&msg));
    const grpc::Status end = reader->Finish();
    EXPECT_EQ(end.error_code(), grpc::StatusCode::PERMISSION_DENIED) << c.name;
    EXPECT_EQ(end.error_message(), first) << c.name;
  }
  EXPECT_THAT(first, HasSubstr("namespace \"intruder\""));
  // A namespace with a rule is told what it may not read, still without the path.
  auto other = client_->IsActive(Md("ORDERS", "workers", {{"connection", "secret-site"}}), "so",
                                 "shop");
  EXPECT_EQ(other.status().code(), core::StatusCode::kPermissionDenied);
  EXPECT_THAT(other.status().message(), HasSubstr("\"secret-site\""));
  EXPECT_THAT(other.status().message(), ::testing::Not(HasSubstr("policy.json")));
}

TEST_F(SecurityTest, PolicyFileChangesApplyWithoutRestartAndBrokenEditsAreIgnored) {
  CreateStream("ORDERS", "orders.>", "workers");
  TempDir dir;
  const std::string path = dir / "policy.json";
  WriteFile(path, R"({"rules": [{"namespaces": ["shop"]}]})");
  StartScaler([&](app::Config& c) {
    c.policy_file = path;
    c.reload_interval = std::chrono::seconds(1);
  });
  auto md = Md("ORDERS", "workers");
  ASSERT_EQ(client_->GetMetrics(md, "", "so", "billing").status().code(),
            core::StatusCode::kPermissionDenied);

  WriteFile(path, R"({"rules": [{"namespaces": ["shop", "billing"]}]})");
  EXPECT_TRUE(WaitFor([&] { return client_->GetMetrics(md, "", "so", "billing").ok(); }));

  // A typo must not change access either way: the last good policy stays.
  const std::string failed = "jetstream_scaler_policy_reloads_total{result=\"error\"}";
  ASSERT_EQ(ScrapeValue(Metrics(), failed), 0);
  WriteFile(path, R"({"rules": [{"namespace": ["nobody"]}]})");
  ASSERT_TRUE(WaitFor([&] { return ScrapeValue(Metrics(), failed) == 1; }));
  EXPECT_TRUE(client_->GetMetrics(md, "", "so", "billing").ok());
  EXPECT_EQ(client_->GetMetrics(md, "", "so", "intruder").status().code(),
            core::StatusCode::kPermissionDenied);

  // Narrowed again: a request admitted (and remembered, AdmissionCache) under
  // the old policy is judged by the new one.
  WriteFile(path, R"({"rules": [{"namespaces": ["shop"]}]})");
  EXPECT_TRUE(WaitFor([&] {
    return client_->GetMetrics(md, "", "so", "billing").status().code() ==
           core::StatusCode::kPermissionDenied;
  }));
  EXPECT_EQ(client_->IsActive(md, "so", "billing").status().code(),
            core::StatusCode::kPermissionDenied);
}

TEST_F(SecurityTest, BrokenPolicyFileFailsStartUpNamingIt) {
  TempDir dir;
  WriteFile(dir / "policy.json", R"({"rules": [{"streams": ["S"]}]})");
  config_.grpc_address = "127.0.0.1:0";
  config_.metrics_address = "127.0.0.1:0";
  config_.connections = {{"default", {nats_->url()}, false}};
  config_.policy_file = dir / "policy.json";
  auto server = jss::server::Server::Start(config_, logging::Logger::Null());
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), core::StatusCode::kInvalidArgument);
  EXPECT_THAT(server.status().message(), HasSubstr("\"namespaces\" is required"));
  EXPECT_THAT(server.status().message(), HasSubstr("policy.json"));
}

TEST_F(SecurityTest, GrpcTlsServesVerifiedClientsAndRefusesPlaintext) {
  TempDir dir;
  TestCa ca(dir, "ca");
  ASSERT_TRUE(ca.ok() && ca.Issue("server")) << "openssl failed";
  StartScaler([&](app::Config& c) {
    c.grpc_tls_cert_file = dir / "server.crt";
    c.grpc_tls_key_file = dir / "server.key";
  });
  EXPECT_TRUE(Spec(*TlsStub(ca.cert())).ok());
  auto plaintext = client_->GetMetricSpec(Md("S", "c"));  // the fixture's client is insecure
  EXPECT_FALSE(plaintext.ok());
  EXPECT_EQ(plaintext.status().code(), core::StatusCode::kUnavailable);
}

TEST_F(SecurityTest, MutualTlsRequiresAClientCertificateFromTheClientCa) {
  TempDir dir;
  TestCa ca(dir, "ca");
  TestCa stranger(dir, "stranger");
  ASSERT_TRUE(ca.ok() && stranger.ok() && ca.Issue("server") && ca.Issue("keda") &&
              stranger.Issue("intruder"))
      << "openssl failed";
  StartScaler([&](app::Config& c) {
    c.grpc_tls_cert_file = dir / "server.crt";
    c.grpc_tls_key_file = dir / "server.key";
    c.grpc_tls_client_ca_file = ca.cert_path();
  });
  EXPECT_TRUE(Spec(*TlsStub(ca.cert(), ReadAll(dir / "keda.crt"), ReadAll(dir / "keda.key"))).ok());
  EXPECT_FALSE(Spec(*TlsStub(ca.cert())).ok()) << "no client certificate";
  EXPECT_FALSE(
      Spec(*TlsStub(ca.cert(), ReadAll(dir / "intruder.crt"), ReadAll(dir / "intruder.key"))).ok())
      << "client certificate from another CA";
}

TEST_F(SecurityTest, ClientNameAllowListRefusesOtherCertificatesOfTheSameCa) {
  TempDir dir;
  TestCa ca(dir, "ca");
  ASSERT_TRUE(ca.ok() && ca.Issue("server") && ca.Issue("keda-operator") && ca.Issue("tenant-pod"))
      << "openssl failed";
  StartScaler([&](app::Config& c) {
    c.grpc_tls_cert_file = dir / "server.crt";
    c.grpc_tls_key_file = dir / "server.key";
    c.grpc_tls_client_ca_file = ca.cert_path();
    c.grpc_tls_client_names = {"keda-operator"};
  });
  EXPECT_TRUE(Spec(*TlsStub(ca.cert(), ReadAll(dir / "keda-operator.crt"),
                            ReadAll(dir / "keda-operator.key")))
                  .ok());
  EXPECT_FALSE(
      Spec(*TlsStub(ca.cert(), ReadAll(dir / "tenant-pod.crt"), ReadAll(dir / "tenant-pod.key")))
          .ok())
      << "a certificate of the same CA with another name was accepted";
}

TEST_F(SecurityTest, RotatedServerCertificateIsServedWithoutRestartOrDroppedConnections) {
  TempDir dir;
  TestCa old_ca(dir, "old-ca");
  TestCa new_ca(dir, "new-ca");
  ASSERT_TRUE(old_ca.ok() && new_ca.ok() && old_ca.Issue("old") && new_ca.Issue("new"))
      << "openssl failed";
  WriteFile(dir / "tls.crt", ReadAll(dir / "old.crt"));
  WriteFile(dir / "tls.key", ReadAll(dir / "old.key"));
  StartScaler([&](app::Config& c) {
    c.grpc_tls_cert_file = dir / "tls.crt";
    c.grpc_tls_key_file = dir / "tls.key";
    c.reload_interval = std::chrono::seconds(1);
  });
  auto established = TlsStub(old_ca.cert());
  ASSERT_TRUE(Spec(*established).ok());
  EXPECT_FALSE(Spec(*TlsStub(new_ca.cert())).ok()) << "not rotated yet";

  // What cert-manager does: the Secret's files are replaced.
  WriteFile(dir / "tls.key", ReadAll(dir / "new.key"));
  WriteFile(dir / "tls.crt", ReadAll(dir / "new.crt"));
  EXPECT_TRUE(WaitFor([&] { return Spec(*TlsStub(new_ca.cert())).ok(); }))
      << "the new certificate was never served";
  EXPECT_TRUE(Spec(*established).ok()) << "an established connection was dropped";
}

TEST_F(SecurityTest, EachNamedConnectionAuthenticatesWithItsOwnToken) {
  std::string error;
  NatsServerProcess::Options alpha_opts;
  alpha_opts.token = "alpha-token";
  auto alpha = NatsServerProcess::Start(alpha_opts, &error);
  ASSERT_NE(alpha, nullptr) << error;
  NatsServerProcess::Options bravo_opts;
  bravo_opts.token = "bravo-token";
  auto bravo = NatsServerProcess::Start(bravo_opts, &error);
  ASSERT_NE(bravo, nullptr) << error;
  for (auto* server : {alpha.get(), bravo.get()}) {
    const std::string token = server == alpha.get() ? "alpha-token" : "bravo-token";
    auto admin = tools::JetStreamAdmin::Connect("nats://" + token + "@127.0.0.1:" +
                                                std::to_string(server->port()));
    ASSERT_TRUE(admin.ok()) << admin.status().ToString();
    ASSERT_TRUE((*admin)->AddStream({"S", {"s.>"}}).ok());
    ASSERT_TRUE((*admin)->AddConsumer({"S", "w", ""}).ok());
    ASSERT_TRUE((*admin)->Publish("s.x", server == alpha.get() ? 3 : 7).ok());
  }
  TempDir dir;
  WriteFile(dir / "alpha", "alpha-token\n");
  WriteFile(dir / "bravo", "bravo-token\n");
  auto parsed = app::ParseConfig(
      {"--nats-url", "alpha=" + alpha->url(), "--nats-url", "bravo=" + bravo->url(),
       "--nats-token-file", "alpha=" + (dir / "alpha"), "--nats-token-file",
       "bravo=" + (dir / "bravo")},
      app::Environment::Process());
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  StartScaler([&](app::Config& c) {
    c.connections = parsed->connections;
    c.nats_auth = parsed->nats_auth;
  });
  auto a = client_->GetMetrics(Md("S", "w", {{"account", "alpha"}}), "");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->value, 3);
  auto b = client_->GetMetrics(Md("S", "w", {{"account", "bravo"}}), "");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->value, 7);
}

TEST_F(SecurityTest, NatsOverTlsAndMutualTls) {
  TempDir dir;
  TestCa ca(dir, "ca");
  ASSERT_TRUE(ca.ok() && ca.Issue("nats") && ca.Issue("scaler")) << "openssl failed";
  std::string error;
  NatsServerProcess::Options opts;
  opts.extra_args = {"--tlsverify", "--tlscert", dir / "nats.crt", "--tlskey", dir / "nats.key",
                     "--tlscacert", ca.cert_path()};
  auto secure = NatsServerProcess::Start(opts, &error);
  ASSERT_NE(secure, nullptr) << error;
  const std::string url = "tls://localhost:" + std::to_string(secure->port());

  // A JetStream API answer (the stream does not exist) proves a working
  // session; without the client certificate there is none.
  StartScaler([&](app::Config& c) {
    c.connections = {{"default", {url}, false}};
    c.nats_default_auth.tls_ca_file = ca.cert_path();
    c.nats_default_auth.tls_cert_file = dir / "scaler.crt";
    c.nats_default_auth.tls_key_file = dir / "scaler.key";
  });
  ASSERT_TRUE(WaitFor([&] { return HttpGet(server_->metrics_port(), "/readyz").status == 200; }));
  auto answer = client_->GetMetrics(Md("NOPE", "w"), "");
  EXPECT_EQ(answer.status().code(), core::StatusCode::kNotFound) << answer.status().ToString();
  server_->Stop();
  server_.reset();

  StartScaler([&](app::Config& c) {
    c.connections = {{"default", {url}, false}};
    c.nats_default_auth.tls_ca_file = ca.cert_path();
    c.nats_default_auth.tls_cert_file.clear();
    c.nats_default_auth.tls_key_file.clear();
  });
  auto refused = client_->GetMetrics(Md("NOPE", "w"), "");
  EXPECT_EQ(refused.status().code(), core::StatusCode::kUnavailable)
      << refused.status().ToString();
  EXPECT_NE(HttpGet(server_->metrics_port(), "/readyz").status, 200);
  // cnats gives up on a refused TLS handshake; nothing in-process can
  // recover, so liveness fails and Kubernetes restarts the scaler.
  EXPECT_TRUE(WaitFor([&] { return HttpGet(server_->metrics_port(), "/healthz").status == 503; }))
      << "a connection closed for good must make /healthz fail";
}

}  // namespace
}  // namespace jss::testing
