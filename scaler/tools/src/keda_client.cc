#include "jss/tools/keda_client.h"

#include <grpcpp/grpcpp.h>

namespace jss::tools {
namespace {

core::Status FromGrpc(const grpc::Status& s) {
  return core::Status(static_cast<core::StatusCode>(s.error_code()), s.error_message());
}

}  // namespace

externalscaler::ScaledObjectRef MakeRef(const std::map<std::string, std::string>& md,
                                        const std::string& name, const std::string& ns) {
  externalscaler::ScaledObjectRef ref;
  ref.set_name(name);
  ref.set_namespace_(ns);
  for (const auto& [k, v] : md) (*ref.mutable_scalermetadata())[k] = v;
  return ref;
}

KedaClient::KedaClient(const std::string& address, std::chrono::milliseconds deadline)
    : deadline_(deadline),
      stub_(externalscaler::ExternalScaler::NewStub(
          grpc::CreateChannel(address, grpc::InsecureChannelCredentials()))) {}

void KedaClient::Prepare(grpc::ClientContext& ctx) const {
  ctx.set_deadline(std::chrono::system_clock::now() + deadline_);
}

core::StatusOr<MetricSpecAnswer> KedaClient::GetMetricSpec(
    const std::map<std::string, std::string>& md, const std::string& name,
    const std::string& ns) {
  grpc::ClientContext ctx;
  Prepare(ctx);
  externalscaler::GetMetricSpecResponse resp;
  grpc::Status s = stub_->GetMetricSpec(&ctx, MakeRef(md, name, ns), &resp);
  if (!s.ok()) return FromGrpc(s);
  if (resp.metricspecs_size() != 1) {
    return core::InternalError("expected exactly one MetricSpec");
  }
  const auto& spec = resp.metricspecs(0);
  return MetricSpecAnswer{spec.metricname(), spec.targetsize(), spec.targetsizefloat()};
}

core::StatusOr<MetricValueAnswer> KedaClient::GetMetrics(
    const std::map<std::string, std::string>& md, const std::string& metric_name,
    const std::string& name, const std::string& ns) {
  grpc::ClientContext ctx;
  Prepare(ctx);
  externalscaler::GetMetricsRequest req;
  *req.mutable_scaledobjectref() = MakeRef(md, name, ns);
  req.set_metricname(metric_name);
  externalscaler::GetMetricsResponse resp;
  grpc::Status s = stub_->GetMetrics(&ctx, req, &resp);
  if (!s.ok()) return FromGrpc(s);
  if (resp.metricvalues_size() != 1) {
    return core::InternalError("expected exactly one MetricValue");
  }
  const auto& v = resp.metricvalues(0);
  return MetricValueAnswer{v.metricname(), v.metricvalue(), v.metricvaluefloat()};
}

core::StatusOr<bool> KedaClient::IsActive(const std::map<std::string, std::string>& md,
                                          const std::string& name, const std::string& ns) {
  grpc::ClientContext ctx;
  Prepare(ctx);
  externalscaler::IsActiveResponse resp;
  grpc::Status s = stub_->IsActive(&ctx, MakeRef(md, name, ns), &resp);
  if (!s.ok()) return FromGrpc(s);
  return resp.result();
}

}  // namespace jss::tools
