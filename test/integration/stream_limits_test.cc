// --max-streams and --max-streams-per-connection over real gRPC: the stream
// beyond a limit is refused with RESOURCE_EXHAUSTED naming the flag, the
// streams already open keep being served, and a closed stream frees its slot.
#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>

#include "gmock/gmock.h"
#include "integration/activity_stream.h"
#include "integration/scaler_fixture.h"

namespace jss::testing {
namespace {

using ::testing::HasSubstr;

class StreamLimitsGrpcTest : public ScalerFixture {
 protected:
  // Its own TCP connection: gRPC would otherwise let channels with the same
  // target and arguments share one (the per-connection limit counts peers).
  std::shared_ptr<grpc::Channel> NewConnection() {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    return grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(server_->grpc_port()),
                                     grpc::InsecureChannelCredentials(), args);
  }

  // Skips values pushed earlier; false when the stream ends or stays silent.
  static bool Pushes(ActivityStream& stream, bool want) {
    for (;;) {
      std::optional<bool> v = stream.Next();
      if (!v) return false;
      if (*v == want) return true;
    }
  }

  static void ExpectRefused(ActivityStream& stream, const std::string& flag) {
    auto ended = stream.Ended();
    ASSERT_TRUE(ended.has_value()) << "the stream beyond the limit was not ended";
    EXPECT_EQ(ended->error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
        << ended->error_message();
    EXPECT_THAT(ended->error_message(), HasSubstr(flag));
    EXPECT_TRUE(stream.History().empty()) << "a refused stream pushed a value";
  }

  // Opens streams until one is admitted (the slot of a cancelled stream is
  // freed when the server has seen the cancel, shortly after the client).
  std::unique_ptr<ActivityStream> OpenOnceAdmitted(externalscaler::ExternalScaler::Stub& stub,
                                                   const std::map<std::string, std::string>& md) {
    std::unique_ptr<ActivityStream> admitted;
    WaitFor([&] {
      auto stream = std::make_unique<ActivityStream>(stub, md);
      if (!Pushes(*stream, true)) return false;
      admitted = std::move(stream);
      return true;
    });
    return admitted;
  }
};

TEST_F(StreamLimitsGrpcTest, TheStreamBeyondMaxStreamsIsRefusedAndAClosedOneFreesItsSlot) {
  CreateStream("LIM", "lim.>", "w");
  ASSERT_TRUE(admin_->Publish("lim.x", 1).ok());
  StartScaler([](app::Config& c) {
    c.max_streams = 2;
    c.max_streams_per_connection = 100;
  });
  auto a = externalscaler::ExternalScaler::NewStub(NewConnection());
  auto b = externalscaler::ExternalScaler::NewStub(NewConnection());
  const auto md = Md("LIM", "w");

  auto first = std::make_unique<ActivityStream>(*a, md, "so1");
  ASSERT_TRUE(Pushes(*first, true));
  ActivityStream second(*b, md, "so2");
  ASSERT_TRUE(Pushes(second, true));

  // The limit is the whole scaler's: a third connection does not help.
  auto c = externalscaler::ExternalScaler::NewStub(NewConnection());
  ActivityStream third(*c, md, "so3");
  ExpectRefused(third, "(--max-streams 2)");
  ActivityStream fourth(*a, md, "so4");
  ExpectRefused(fourth, "(--max-streams 2)");

  // The admitted streams are still served: draining the consumer is pushed.
  ASSERT_TRUE(admin_->Fetch("LIM", "w", 1, /*ack=*/true).ok());
  EXPECT_TRUE(Pushes(*first, false));
  EXPECT_TRUE(Pushes(second, false));

  // One ends; a new stream is admitted in its place.
  first->Cancel();
  ASSERT_TRUE(first->Ended().has_value());
  first.reset();
  ASSERT_TRUE(admin_->Publish("lim.x", 1).ok());
  auto replacement = OpenOnceAdmitted(*a, md);
  ASSERT_NE(replacement, nullptr) << "a freed slot was not given to a new stream";
  EXPECT_TRUE(Pushes(second, true));
}

TEST_F(StreamLimitsGrpcTest, MaxStreamsPerConnectionLimitsEachClientConnectionOnItsOwn) {
  CreateStream("PER", "per.>", "w");
  ASSERT_TRUE(admin_->Publish("per.x", 1).ok());
  StartScaler([](app::Config& c) {
    c.max_streams = 100;
    c.max_streams_per_connection = 1;
  });
  auto a = externalscaler::ExternalScaler::NewStub(NewConnection());
  auto b = externalscaler::ExternalScaler::NewStub(NewConnection());
  const auto md = Md("PER", "w");

  auto a1 = std::make_unique<ActivityStream>(*a, md, "a1");
  ASSERT_TRUE(Pushes(*a1, true));
  ActivityStream a2(*a, md, "a2");
  ExpectRefused(a2, "(--max-streams-per-connection 1)");

  // Another client connection has a budget of its own.
  ActivityStream b1(*b, md, "b1");
  ASSERT_TRUE(Pushes(b1, true));
  ActivityStream b2(*b, md, "b2");
  ExpectRefused(b2, "(--max-streams-per-connection 1)");

  // Unary calls on a full connection are not streams: they still work.
  grpc::ClientContext ctx;
  externalscaler::GetMetricsRequest req;
  *req.mutable_scaledobjectref() = tools::MakeRef(md, "a1", "apps");
  externalscaler::GetMetricsResponse resp;
  ASSERT_TRUE(a->GetMetrics(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.metricvalues(0).metricvalue(), 1);

  ASSERT_TRUE(admin_->Fetch("PER", "w", 1, /*ack=*/true).ok());
  EXPECT_TRUE(Pushes(*a1, false));
  a1->Cancel();
  ASSERT_TRUE(a1->Ended().has_value());
  a1.reset();
  ASSERT_TRUE(admin_->Publish("per.x", 1).ok());
  EXPECT_NE(OpenOnceAdmitted(*a, md), nullptr)
      << "the connection's freed slot was not given to a new stream";
}

}  // namespace
}  // namespace jss::testing
