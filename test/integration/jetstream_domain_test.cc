// JetStream domains: a scaler attached to a leaf node reads a consumer that
// lives in the hub's domain, through $JS.hub.API — real hub and leaf
// nats-server processes on loopback.
#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "integration/activity_stream.h"
#include "integration/scaler_fixture.h"

namespace jss::testing {
namespace {

std::string WriteConfig(const std::string& name, const std::string& text) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("jss-domain-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = dir / (name + ".conf");
  std::ofstream(path) << text;
  return path.string();
}

class JetStreamDomainTest : public ScalerFixture {
 protected:
  // nats_ is the hub (domain "hub"); leaf_ (domain "leaf") connects to it as
  // a leaf node. Streams are created in the hub.
  void SetUp() override {
    const int leafnode_port = PickFreePort();
    std::string error;
    NatsServerProcess::Options hub;
    hub.extra_args = {"-c", WriteConfig("hub", "server_name: hub\n"
                                               "jetstream { domain: hub }\n"
                                               "leafnodes { listen: \"127.0.0.1:" +
                                                   std::to_string(leafnode_port) + "\" }\n")};
    nats_ = NatsServerProcess::Start(hub, &error);
    ASSERT_NE(nats_, nullptr) << error;
    NatsServerProcess::Options leaf;
    leaf.extra_args = {"-c", WriteConfig("leaf", "server_name: leaf\n"
                                                 "jetstream { domain: leaf }\n"
                                                 "leafnodes { remotes: [ { url: "
                                                 "\"nats-leaf://127.0.0.1:" +
                                                     std::to_string(leafnode_port) +
                                                     "\" } ] }\n")};
    leaf_ = NatsServerProcess::Start(leaf, &error);
    ASSERT_NE(leaf_, nullptr) << error;
    auto admin = tools::JetStreamAdmin::Connect(nats_->url());
    ASSERT_TRUE(admin.ok()) << admin.status().ToString();
    admin_ = std::move(*admin);
    ASSERT_TRUE(admin_->AddStream({"HUBWORK", {"hubwork.>"}}).ok());
    ASSERT_TRUE(admin_->AddConsumer({"HUBWORK", "w", ""}).ok());
    ASSERT_TRUE(admin_->Publish("hubwork.x", 4).ok());
  }

  void StartOnLeaf(const std::string& js_domain) {
    StartScaler([&](app::Config& c) {
      c.connections = {{"default", {leaf_->url()}, false}};
      c.nats_default_auth.js_domain = js_domain;
    });
  }

  std::unique_ptr<NatsServerProcess> leaf_;
};

TEST_F(JetStreamDomainTest, LeafScalerReadsAHubConsumerThroughTheHubDomain) {
  StartOnLeaf("hub");
  const auto md = Md("HUBWORK", "w");
  // The leaf node link comes up asynchronously.
  EXPECT_TRUE(WaitFor([&] {
    auto v = client_->GetMetrics(md, "");
    return v.ok() && v->value == 4;
  })) << client_->GetMetrics(md, "").status().ToString();
  auto active = client_->IsActive(md);
  ASSERT_TRUE(active.ok()) << active.status().ToString();
  EXPECT_TRUE(*active);
  // external-push reads through the same domain.
  ActivityStream stream(client_->stub(), md);
  EXPECT_EQ(stream.Next(), std::optional<bool>(true));
}

TEST_F(JetStreamDomainTest, WithoutTheDomainTheLeafAnswersNotFound) {
  // First prove the hub consumer is reachable from the leaf at all, so the
  // NOT_FOUND below is about the domain, not a link still coming up.
  StartOnLeaf("hub");
  const auto md = Md("HUBWORK", "w");
  ASSERT_TRUE(WaitFor([&] { return client_->GetMetrics(md, "").ok(); }));
  server_->Stop();
  server_.reset();

  StartOnLeaf("");
  auto value = client_->GetMetrics(md, "");
  ASSERT_FALSE(value.ok()) << "read " << value->value << " from the leaf's own domain";
  EXPECT_EQ(value.status().code(), core::StatusCode::kNotFound) << value.status().ToString();
}

}  // namespace
}  // namespace jss::testing
