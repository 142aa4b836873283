#include "noop_server.h"

#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <iostream>

#include "externalscaler.grpc.pb.h"

namespace jss::bench {
namespace {

class NoopService final : public externalscaler::ExternalScaler::CallbackService {
  grpc::ServerUnaryReactor* GetMetrics(grpc::CallbackServerContext* ctx,
                                       const externalscaler::GetMetricsRequest*,
                                       externalscaler::GetMetricsResponse* response) override {
    auto* v = response->add_metricvalues();
    v->set_metricname("nats-jetstream-BENCH");
    v->set_metricvalue(1);
    v->set_metricvaluefloat(1);
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  grpc::ServerUnaryReactor* IsActive(grpc::CallbackServerContext* ctx,
                                     const externalscaler::ScaledObjectRef*,
                                     externalscaler::IsActiveResponse* response) override {
    response->set_result(true);
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

}  // namespace

int RunNoopServer(const std::string& address) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  NoopService service;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  auto server = builder.BuildAndStart();
  if (!server || port == 0) return 1;
  std::cout << "port=" << port << std::endl;
  int sig = 0;
  sigwait(&signals, &sig);
  server->Shutdown();
  return 0;
}

}  // namespace jss::bench
