#include "jss/grpc/external_scaler_service.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "jss/core/base/status.h"
#include "jss/core/base/strings.h"
#include "jss/core/policy/admission_cache.h"
#include "jss/core/trigger/duration.h"
#include "jss/core/trigger/kubernetes_names.h"
#include "jss/core/trigger/metadata.h"
#include "jss/core/trigger/metric_name.h"
#include "jss/grpc/grpc_status.h"

namespace jss::grpc_service {
namespace {

// Leave KEDA time to receive our typed error before its own deadline turns it
// into an anonymous DEADLINE_EXCEEDED: a tenth of what is left, up to 500 ms
// (50 ms was too little on a loaded node: the typed UNAVAILABLE of a read at
// its deadline arrived after the client had given up).
constexpr std::chrono::milliseconds kDeadlineMargin{500};

// GetMetricSpec's answer; StreamMetricSpec sends the same, as KEDA requires.
// An age trigger's target is its ageThreshold in seconds (KEDA takes the
// float when it is > 0; the integer is rounded up so it is never 0).
void FillMetricSpec(const core::TriggerMetadata& metadata,
                    externalscaler::GetMetricSpecResponse* response) {
  auto* spec = response->add_metricspecs();
  if (metadata.is_age_trigger()) {
    const int64_t ms = metadata.age_threshold->count();
    spec->set_metricname(core::MetricNameForAge(metadata.stream));
    spec->set_targetsize(core::AgeWholeSecondsRoundedUp(ms));
    spec->set_targetsizefloat(core::AgeSeconds(ms));
    return;
  }
  spec->set_metricname(core::MetricNameForStream(metadata.stream));
  spec->set_targetsize(metadata.lag_threshold);
  spec->set_targetsizefloat(static_cast<double>(metadata.lag_threshold));
}

std::string TargetText(const core::TriggerMetadata& metadata) {
  return metadata.is_age_trigger() ? core::FormatDuration(*metadata.age_threshold)
                                   : fmt::format("{}", metadata.lag_threshold);
}

}  // namespace

// What a finished RPC reports: for metrics and the request log line.
struct ExternalScalerService::Call {
  std::string_view method;
  uint64_t id;
  std::string ns;
  std::string name;
  std::string stream;
  std::string consumer;
  core::SteadyTime started;
};

ExternalScalerService::ExternalScalerService(core::LagSource& lag_source,
                                             core::LagSource& age_source,
                                             const core::ConnectionSelector& selector,
                                             ServiceOptions options,
                                             core::RpcObserver& observer,
                                             std::shared_ptr<logging::Logger> logger,
                                             core::PushHub& hub,
                                             const core::PolicyHolder& policy,
                                             core::Scheduler* scheduler)
    : lag_source_(lag_source),
      age_source_(age_source),
      selector_(selector),
      options_(options),
      observer_(observer),
      logger_(std::move(logger)),
      hub_(hub),
      policy_(policy),
      stream_limits_(options.max_streams, options.max_streams_per_connection),
      open_streams_(scheduler, options.max_stream_age) {}

core::StatusOr<ExternalScalerService::Parsed> ExternalScalerService::Parse(
    const externalscaler::ScaledObjectRef& ref, core::TriggerUse use) {
  const auto& map = ref.scalermetadata();
  const std::shared_ptr<const core::AccessPolicy> policy = policy_.Current();
  // KEDA's polls repeat the same request: an admission already made for
  // these exact bytes under this policy is the answer (AdmissionCache).
  core::AdmissionKeyBuilder builder;
  for (const auto& [key, value] : map) builder.Add(key, value);
  std::string cache_key =
      builder.Build(use, ref.namespace_(), ref.name(), admissions_.options().max_key_bytes);
  if (!cache_key.empty()) {
    if (auto hit = admissions_.Find(cache_key, policy)) return hit;
  }
  // First of all: a forged namespace or name must not reach the policy, its
  // denial metric (one series per namespace) or a log line in full.
  if (core::Status valid = core::ValidateScaledObjectRef(ref.namespace_(), ref.name());
      !valid.ok()) {
    return valid;
  }
  auto resolved = core::ResolveTrigger(
      [&map](std::string_view key) -> std::optional<std::string_view> {
        auto it = map.find(std::string(key));
        if (it == map.end()) return std::nullopt;
        return std::string_view(it->second);
      },
      ref.namespace_(), selector_, *policy, use);
  if (!resolved.ok()) {
    if (resolved.status().code() == core::StatusCode::kPermissionDenied) {
      observer_.OnPolicyDenied(ref.namespace_());  // only the policy check denies
    }
    return resolved.status();
  }
  NoteIgnoredKeys(resolved->metadata);
  auto admitted = std::make_shared<const core::ResolvedTrigger>(std::move(*resolved));
  if (!cache_key.empty()) admissions_.Insert(std::move(cache_key), policy, admitted);
  return admitted;
}

void ExternalScalerService::NoteIgnoredKeys(const core::TriggerMetadata& metadata) {
  if (metadata.ignored_builtin_keys.empty() || ignored_keys_logged_.exchange(true)) return;
  const std::string keys = fmt::format("{}", fmt::join(metadata.ignored_builtin_keys, ","));
  logger_->Debug(
      "trigger metadata keys of the built-in nats-jetstream scaler are accepted and ignored "
      "(this scaler reads the JetStream API, not the monitoring endpoint); logged once",
      {{"keys", keys}});
}

core::SteadyTime ExternalScalerService::DeadlineFor(
    const grpc::CallbackServerContext& ctx) const {
  const auto steady_now = std::chrono::steady_clock::now();
  auto budget = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      options_.request_timeout);
  const auto client_deadline = ctx.deadline();
  if (client_deadline != std::chrono::system_clock::time_point::max()) {
    auto remaining = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        client_deadline - std::chrono::system_clock::now());
    const auto margin = std::min<std::chrono::steady_clock::duration>(kDeadlineMargin,
                                                                       remaining / 10);
    budget = std::min(budget, remaining - margin);
  }
  return steady_now + budget;
}

void ExternalScalerService::Done(const Call& call, const core::Status& status,
                                 std::string_view extra_key, std::string_view extra_value) {
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - call.started).count();
  observer_.OnRpcDone(call.method, status.code(), seconds);
  const auto level = status.ok() ? spdlog::level::debug : spdlog::level::info;
  if (!logger_->Enabled(level)) return;
  const std::string id = fmt::format("{}", call.id);
  const std::string_view code = core::StatusCodeName(status.code());
  logger_->Log(level, status.ok() ? "rpc ok" : "rpc failed",
               {{"method", call.method},
                {"request_id", id},
                {"namespace", call.ns},
                {"scaledobject", call.name},
                {"stream", call.stream},
                {"consumer", call.consumer},
                {"code", code},
                {status.ok() ? extra_key : "error", status.ok() ? extra_value : std::string_view(status.message())}});
}

grpc::ServerUnaryReactor* ExternalScalerService::FinishUnary(const Call& call,
                                                             grpc::ServerUnaryReactor* reactor,
                                                             const core::Status& status,
                                                             std::string_view extra_key,
                                                             std::string_view extra_value) {
  Done(call, status, extra_key, extra_value);
  reactor->Finish(ToGrpc(status));
  return reactor;
}

void ExternalScalerService::AnswerWithLag(const grpc::CallbackServerContext& ctx, Call call,
                                          grpc::ServerUnaryReactor* reactor,
                                          const core::ConsumerKey& key, bool age,
                                          LagAnswer answer) {
  (age ? age_source_ : lag_source_).ReadLag(key, DeadlineFor(ctx),
                      [this, reactor, age, call = std::move(call),
                       answer = std::move(answer)](const core::LagResult& lag) {
                        if (!lag.ok()) {
                          FinishUnary(call, reactor, lag.status());
                          return;
                        }
                        if (age && !lag->oldest_age_ms.has_value()) {
                          // Never a made-up 0: an age trigger answers only a read that had one.
                          FinishUnary(call, reactor,
                                      core::InternalError("the age read returned no age"));
                          return;
                        }
                        const auto [key_name, value] = answer(*lag);
                        FinishUnary(call, reactor, core::OkStatus(), key_name, value);
                      });
}

grpc::ServerUnaryReactor* ExternalScalerService::GetMetricSpec(
    grpc::CallbackServerContext* /*ctx*/, const externalscaler::ScaledObjectRef* request,
    externalscaler::GetMetricSpecResponse* response) {
  Call call = NewCall("GetMetricSpec", *request);
  auto* reactor = calls_.NewUnaryReactor();
  auto parsed = Parse(*request);
  if (!parsed.ok()) return FinishUnary(call, reactor, parsed.status());
  FillMetricSpec((*parsed)->metadata, response);
  return FinishUnary(call, reactor, core::OkStatus(), "target",
                     TargetText((*parsed)->metadata));
}

grpc::ServerUnaryReactor* ExternalScalerService::GetMetrics(
    grpc::CallbackServerContext* ctx, const externalscaler::GetMetricsRequest* request,
    externalscaler::GetMetricsResponse* response) {
  const auto& ref = request->scaledobjectref();
  Call call = NewCall("GetMetrics", ref);
  auto* reactor = calls_.NewUnaryReactor();
  auto parsed = Parse(ref);
  if (!parsed.ok()) return FinishUnary(call, reactor, parsed.status());
  if ((*parsed)->metadata.is_age_trigger()) {
    AnswerWithLag(*ctx, std::move(call), reactor, (*parsed)->key, /*age=*/true,
                  [response, metric_name = core::MetricNameForAge((*parsed)->metadata.stream)](
                      const core::ConsumerLag& lag) {
                    const int64_t ms = *lag.oldest_age_ms;  // checked by AnswerWithLag
                    auto* value = response->add_metricvalues();
                    value->set_metricname(metric_name);
                    value->set_metricvalue(core::AgeWholeSecondsRoundedUp(ms));
                    value->set_metricvaluefloat(core::AgeSeconds(ms));
                    return LogField{"age_ms", fmt::format("{}", ms)};
                  });
    return reactor;
  }
  AnswerWithLag(*ctx, std::move(call), reactor, (*parsed)->key, /*age=*/false,
                [response, metric_name = core::MetricNameForStream((*parsed)->metadata.stream)](
                    const core::ConsumerLag& lag) {
                  auto* value = response->add_metricvalues();
                  value->set_metricname(metric_name);
                  value->set_metricvalue(lag.TotalAsInt64());
                  value->set_metricvaluefloat(static_cast<double>(lag.Total()));
                  return LogField{"lag", fmt::format("{}", lag.Total())};
                });
  return reactor;
}

grpc::ServerUnaryReactor* ExternalScalerService::IsActive(
    grpc::CallbackServerContext* ctx, const externalscaler::ScaledObjectRef* request,
    externalscaler::IsActiveResponse* response) {
  Call call = NewCall("IsActive", *request);
  auto* reactor = calls_.NewUnaryReactor();
  auto parsed = Parse(*request);
  if (!parsed.ok()) return FinishUnary(call, reactor, parsed.status());
  const core::TriggerMetadata& md = (*parsed)->metadata;
  AnswerWithLag(*ctx, std::move(call), reactor, (*parsed)->key, md.is_age_trigger(),
                [response, age = md.is_age_trigger(), activation = md.activation_lag_threshold,
                 age_activation = md.activation_age_threshold](const core::ConsumerLag& lag) {
                  const bool active = age ? core::IsAgeActive(lag, age_activation)
                                          : core::IsActive(lag, activation);
                  response->set_result(active);
                  return LogField{"active", active ? "true" : "false"};
                });
  return reactor;
}

grpc::ServerWriteReactor<externalscaler::IsActiveResponse>*
ExternalScalerService::StreamIsActive(grpc::CallbackServerContext* ctx,
                                      const externalscaler::ScaledObjectRef* request) {
  auto call = NewStreamCall("StreamIsActive", *request);
  const std::string peer = ctx->peer();
  const core::Status admitted = stream_limits_.Admit(peer);
  auto parsed = admitted.ok() ? Parse(*request, core::TriggerUse::kPush)  // reads pushInterval
                              : core::StatusOr<Parsed>(admitted);
  const uint64_t id = parsed.ok() ? open_streams_.Reserve() : 0;
  auto* stream = new IsActiveStream(hub_, DoneWhenEnded(call, AdmittedPeer(admitted, peer), id));
  if (parsed.ok() && (*parsed)->metadata.push_interval.has_value() &&
      *(*parsed)->metadata.push_interval < options_.min_push_interval) {
    // The operator's floor: a tenant asking for faster polling is told so
    // (KEDA shows it on the ScaledObject) instead of being silently slowed.
    parsed = core::InvalidArgumentError(
        fmt::format("pushInterval \"{}\" is below this scaler's minimum (--min-push-interval "
                    "{}); set pushInterval to at least {} or remove it",
                    core::FormatDuration(*(*parsed)->metadata.push_interval),
                    core::FormatDuration(options_.min_push_interval),
                    core::FormatDuration(options_.min_push_interval)));
  }
  if (!parsed.ok()) {
    stream->Reject(parsed.status());
    return stream;
  }
  if (id == 0) {  // shutting down: end cleanly, KEDA reconnects elsewhere
    stream->Reject(core::OkStatus());
    return stream;
  }
  logger_->Debug("push stream opened", {{"namespace", call->ns}, {"scaledobject", call->name},
                                        {"stream", call->stream}, {"consumer", call->consumer}});
  const core::TriggerMetadata& metadata = (*parsed)->metadata;
  stream->Subscribe((*parsed)->key,
                    metadata.is_age_trigger()
                        ? core::PushActivation::Age(metadata.activation_age_threshold)
                        : core::PushActivation::Lag(metadata.activation_lag_threshold),
                    std::max((*parsed)->metadata.push_interval.value_or(options_.push_interval),
                             options_.min_push_interval));
  open_streams_.Activate(id, [stream](const core::Status& s) { stream->Close(s); });
  return stream;
}

grpc::ServerWriteReactor<externalscaler::GetMetricSpecResponse>*
ExternalScalerService::StreamMetricSpec(grpc::CallbackServerContext* ctx,
                                        const externalscaler::ScaledObjectRef* request) {
  auto call = NewStreamCall("StreamMetricSpec", *request);
  const std::string peer = ctx->peer();
  const core::Status admitted = stream_limits_.Admit(peer);
  auto parsed = admitted.ok() ? Parse(*request) : core::StatusOr<Parsed>(admitted);
  if (!parsed.ok()) {
    auto* stream = new MetricSpecStream(
        std::nullopt, DoneWhenEnded(call, AdmittedPeer(admitted, peer)), [](auto*) {});
    stream->Reject(parsed.status());
    return stream;
  }
  const uint64_t id = open_streams_.Reserve();
  externalscaler::GetMetricSpecResponse spec;
  FillMetricSpec((*parsed)->metadata, &spec);
  auto* stream = new MetricSpecStream(std::move(spec), DoneWhenEnded(call, peer, id),
                                      [](auto*) {});
  if (id == 0) {  // shutting down: end cleanly, KEDA reconnects elsewhere
    stream->Close(core::OkStatus());
    return stream;
  }
  open_streams_.Activate(id, [stream](const core::Status& s) { stream->Close(s); });
  return stream;
}

ExternalScalerService::Call ExternalScalerService::NewCall(
    const char* method, const externalscaler::ScaledObjectRef& ref) {
  // The stream and consumer as the trigger gave them, before any validation: a call refused
  // for bad metadata or by the access policy is logged with the names it asked for. Cut to
  // the longest valid JetStream name, so a hostile value cannot bloat the log line.
  auto raw = [&ref](const char* key) -> std::string {
    const auto& md = ref.scalermetadata();
    auto it = md.find(key);
    return it == md.end() ? std::string() : it->second.substr(0, core::kMaxNameLength);
  };
  // The ScaledObject's namespace and name come from the caller too (KEDA sends
  // valid ones; anyone else may not): a valid one is logged as it is, anything
  // else (refused by Parse) as the same short escaped preview its error quotes,
  // so no forged one sets the size of the line or puts control bytes in it.
  auto ns = core::IsDns1123Label(ref.namespace_()) ? ref.namespace_()
                                                   : core::Preview(ref.namespace_());
  auto name = core::IsDns1123Subdomain(ref.name()) ? ref.name() : core::Preview(ref.name());
  return Call{method,
              next_request_id_++,
              std::move(ns),
              std::move(name),
              raw("stream"),
              raw("consumer"),
              std::chrono::steady_clock::now()};
}

std::shared_ptr<ExternalScalerService::Call> ExternalScalerService::NewStreamCall(
    const char* method, const externalscaler::ScaledObjectRef& ref) {
  return std::make_shared<Call>(NewCall(method, ref));
}

std::optional<std::string> ExternalScalerService::AdmittedPeer(const core::Status& admitted,
                                                               const std::string& peer) {
  return admitted.ok() ? std::optional<std::string>(peer) : std::nullopt;
}

StreamDone ExternalScalerService::DoneWhenEnded(std::shared_ptr<Call> call,
                                                std::optional<std::string> admitted_peer,
                                                uint64_t open_stream) {
  calls_.Begin();  // one per stream reactor: this callback runs in its OnDone
  return [this, call = std::move(call), admitted_peer, open_stream](core::StatusCode code) {
    calls_.End();
    if (admitted_peer) stream_limits_.Release(*admitted_peer);
    open_streams_.Remove(open_stream);
    Done(*call, code == core::StatusCode::kOk ? core::OkStatus()
                                              : core::Status(code, "stream ended"));
  };
}

void ExternalScalerService::CloseStreams() {
  // OK: KEDA resets its reconnect back-off only after a clean end.
  open_streams_.CloseAll(core::OkStatus());
}

void ExternalScalerService::EndOpenStreams() { open_streams_.EndAll(core::OkStatus()); }

}  // namespace jss::grpc_service
