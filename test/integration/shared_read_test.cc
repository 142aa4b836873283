// A caller that joins a read already in flight keeps its own deadline (issue 21
// item 8): against a real nats-server whose JetStream API "responder" takes the
// request and never answers, a short-deadline caller that joined a long one's
// read gets the typed UNAVAILABLE it gets alone, not gRPC's bare
// DEADLINE_EXCEEDED.
#include <grpcpp/grpcpp.h>
#include <nats/nats.h>

#include <atomic>
#include <thread>

#include "gmock/gmock.h"
#include "integration/scaler_fixture.h"

namespace jss::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

// Subscribes to the consumer-info API in place of JetStream (disabled on the
// server) and never replies: each request the scaler sends is counted and left
// to its deadline.
class SilentResponder {
 public:
  explicit SilentResponder(const std::string& url) {
    if (natsConnection_ConnectTo(&conn_, url.c_str()) != NATS_OK) return;
    if (natsConnection_Subscribe(&sub_, conn_, "$JS.API.CONSUMER.INFO.>", &SilentResponder::OnMsg,
                                 this) != NATS_OK) {
      return;
    }
    ok_ = natsConnection_FlushTimeout(conn_, 5000) == NATS_OK;  // the server has the interest
  }
  ~SilentResponder() {
    if (sub_ != nullptr) natsSubscription_Destroy(sub_);
    if (conn_ != nullptr) natsConnection_Destroy(conn_);
  }
  bool ok() const { return ok_; }
  int requests() const { return requests_.load(); }

 private:
  static void OnMsg(natsConnection*, natsSubscription*, natsMsg* msg, void* self) {
    static_cast<SilentResponder*>(self)->requests_.fetch_add(1);
    natsMsg_Destroy(msg);
  }

  natsConnection* conn_ = nullptr;
  natsSubscription* sub_ = nullptr;
  std::atomic<int> requests_{0};
  bool ok_ = false;
};

class SharedReadTest : public ScalerFixture {
 protected:
  void SetUp() override {
    nats_options_.jetstream = false;
    ScalerFixture::SetUp();
  }

  grpc::Status IsActive(const std::string& consumer, std::chrono::milliseconds deadline,
                        grpc::ClientContext* ctx = nullptr) {
    grpc::ClientContext own;
    if (ctx == nullptr) ctx = &own;
    ctx->set_deadline(std::chrono::system_clock::now() + deadline);
    externalscaler::IsActiveResponse response;
    return client_->stub().IsActive(ctx, tools::MakeRef(Md("ORDERS", consumer), "so", "apps"),
                                    &response);
  }
};

TEST_F(SharedReadTest, AShortDeadlineCallerThatJoinsALongReadGetsTheTypedError) {
  SilentResponder responder(nats_->url());
  ASSERT_TRUE(responder.ok());
  StartScaler([](app::Config& c) {
    c.request_timeout = 20s;
    c.nats_ping_interval = 60s;  // the server answers PINGs anyway; no stale verdicts mid-test
  });

  // Alone, a short deadline gets a typed UNAVAILABLE from its own read.
  const grpc::Status alone = IsActive("alone", 3000ms);
  EXPECT_EQ(alone.error_code(), grpc::StatusCode::UNAVAILABLE) << alone.error_message();
  EXPECT_THAT(alone.error_message(), HasSubstr("did not answer within the request deadline"));
  ASSERT_EQ(responder.requests(), 1);

  // A long-deadline caller starts a read of "shared"; once NATS has the
  // request, a short-deadline caller asks for the same consumer.
  grpc::ClientContext long_ctx;
  grpc::Status long_status;
  std::thread long_caller([&] { long_status = IsActive("shared", 15s, &long_ctx); });
  const bool sent = WaitFor([&] { return responder.requests() == 2; }, 10s);
  grpc::Status joined;
  if (sent) joined = IsActive("shared", 3000ms);
  const int requests_after_join = responder.requests();
  long_ctx.TryCancel();  // the long read's own end is not under test
  long_caller.join();
  ASSERT_TRUE(sent) << "the long caller's request never reached NATS";
  EXPECT_NE(long_status.error_code(), grpc::StatusCode::OK) << "NATS never answered it";

  EXPECT_EQ(joined.error_code(), grpc::StatusCode::UNAVAILABLE)
      << "code " << joined.error_code() << ": " << joined.error_message();
  EXPECT_THAT(joined.error_message(), HasSubstr("did not answer within the request deadline"));
  EXPECT_EQ(requests_after_join, 2) << "the short caller shared the read in flight";
}

}  // namespace
}  // namespace jss::testing
