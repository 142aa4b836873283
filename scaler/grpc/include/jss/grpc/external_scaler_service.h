#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "externalscaler.grpc.pb.h"
#include "jss/core/base/status.h"
#include "jss/core/lag/lag_source.h"
#include "jss/core/lag/observer.h"
#include "jss/core/policy/access_policy.h"
#include "jss/core/policy/admission_cache.h"
#include "jss/core/policy/connection_selector.h"
#include "jss/core/policy/resolve_trigger.h"
#include "jss/core/policy/stream_limits.h"
#include "jss/core/trigger/defaults.h"
#include "jss/core/trigger/metadata.h"
#include "jss/grpc/calls_in_flight.h"
#include "jss/grpc/open_streams.h"
#include "jss/grpc/stream_reactors.h"
#include "jss/logging/logger.h"

namespace jss::grpc_service {

struct ServiceOptions {
  // Upper bound for one NATS read; KEDA's own deadline shortens it further.
  std::chrono::milliseconds request_timeout = core::kDefaultRequestTimeout;
  // StreamIsActive re-read interval when the trigger sets no pushInterval.
  std::chrono::milliseconds push_interval = core::kDefaultPushInterval;
  // Open StreamIsActive + StreamMetricSpec streams: in total, and per client
  // connection (KEDA uses one connection for every ScaledObject).
  size_t max_streams = core::kDefaultMaxStreams;
  size_t max_streams_per_connection = core::kDefaultMaxStreams;
  // Operator floor for a trigger's pushInterval (lower values are raised).
  std::chrono::milliseconds min_push_interval = core::kPushIntervalRange.min;
  // Streams end with OK after a jittered age up to this (0: never); see
  // OpenStreams. Needs the scheduler passed to the service.
  std::chrono::milliseconds max_stream_age{0};
};

// KEDA's ExternalScaler. Each unary handler validates metadata inline, starts
// an asynchronous lag read and returns; the read's callback finishes the RPC.
class ExternalScalerService final : public externalscaler::ExternalScaler::CallbackService {
 public:
  // `hub` serves StreamIsActive (shared watchers); `scheduler` (may be null
  // when options.max_stream_age is 0) ends streams that reached their age.
  // `age_source` answers age triggers (ageThreshold): ConsumerLag with oldest_age_ms.
  ExternalScalerService(core::LagSource& lag_source, core::LagSource& age_source,
                        const core::ConnectionSelector& selector,
                        ServiceOptions options, core::RpcObserver& observer,
                        std::shared_ptr<logging::Logger> logger, core::PushHub& hub,
                        const core::PolicyHolder& policy, core::Scheduler* scheduler = nullptr);

  // Ends every open stream (StreamIsActive streams normally end first,
  // through the hub's Shutdown). Call before shutting the gRPC server down.
  void CloseStreams();
  // Ends every stream open now with OK (KEDA reopens it after 2 s, on a new connection once
  // the old one got GOAWAY); streams opened later are served as usual.
  void EndOpenStreams();

  size_t OpenStreamCount() const { return open_streams_.size(); }
  // Unary calls and streams from their handler's start to gRPC's OnDone.
  const CallsInFlight& calls_in_flight() const { return calls_; }

  grpc::ServerUnaryReactor* IsActive(grpc::CallbackServerContext* ctx,
                                     const externalscaler::ScaledObjectRef* request,
                                     externalscaler::IsActiveResponse* response) override;
  grpc::ServerUnaryReactor* GetMetricSpec(grpc::CallbackServerContext* ctx,
                                          const externalscaler::ScaledObjectRef* request,
                                          externalscaler::GetMetricSpecResponse* response) override;
  grpc::ServerUnaryReactor* GetMetrics(grpc::CallbackServerContext* ctx,
                                       const externalscaler::GetMetricsRequest* request,
                                       externalscaler::GetMetricsResponse* response) override;
  grpc::ServerWriteReactor<externalscaler::IsActiveResponse>* StreamIsActive(
      grpc::CallbackServerContext* ctx, const externalscaler::ScaledObjectRef* request) override;
  grpc::ServerWriteReactor<externalscaler::GetMetricSpecResponse>* StreamMetricSpec(
      grpc::CallbackServerContext* ctx, const externalscaler::ScaledObjectRef* request) override;

 private:
  struct Call;
  // Shared with the admission cache: a cached call copies no metadata.
  using Parsed = std::shared_ptr<const core::ResolvedTrigger>;

  // core::ResolveTrigger on the request's metadata and namespace; notes
  // ignored keys and policy denials. Every RPC but StreamIsActive polls (kPolling).
  core::StatusOr<Parsed> Parse(const externalscaler::ScaledObjectRef& ref,
                               core::TriggerUse use = core::TriggerUse::kPolling);
  core::SteadyTime DeadlineFor(const grpc::CallbackServerContext& ctx) const;
  void Done(const Call& call, const core::Status& status, std::string_view extra_key = {},
            std::string_view extra_value = {});
  void NoteIgnoredKeys(const core::TriggerMetadata& metadata);
  // Ends a unary call: its metrics and log line, then KEDA's answer.
  grpc::ServerUnaryReactor* FinishUnary(const Call& call, grpc::ServerUnaryReactor* reactor,
                                        const core::Status& status,
                                        std::string_view extra_key = {},
                                        std::string_view extra_value = {});
  // The OK log line's extra field (e.g. "lag", "42").
  using LogField = std::pair<std::string_view, std::string>;
  // Fills the response from the lag; returns the log field.
  using LagAnswer = std::function<LogField(const core::ConsumerLag&)>;
  // Reads the lag under the call's deadline, then answers with `answer`, or
  // finishes the call with the read's error (never a made-up lag).
  void AnswerWithLag(const grpc::CallbackServerContext& ctx, Call call,
                     grpc::ServerUnaryReactor* reactor, const core::ConsumerKey& key,
                     bool age, LagAnswer answer);
  // The record of one call (for its metrics and log line), and for a streaming call the
  // callback its reactor runs when it ends.
  Call NewCall(const char* method, const externalscaler::ScaledObjectRef& ref);
  std::shared_ptr<Call> NewStreamCall(const char* method,
                                      const externalscaler::ScaledObjectRef& ref);
  // `admitted_peer`: released from the stream limits when the stream ends;
  // `open_stream` is the stream's OpenStreams id (0: none).
  static std::optional<std::string> AdmittedPeer(const core::Status& admitted,
                                                 const std::string& peer);
  StreamDone DoneWhenEnded(std::shared_ptr<Call> call,
                           std::optional<std::string> admitted_peer = std::nullopt,
                           uint64_t open_stream = 0);

  core::LagSource& lag_source_;
  core::LagSource& age_source_;
  const core::ConnectionSelector& selector_;
  const ServiceOptions options_;
  core::RpcObserver& observer_;
  std::shared_ptr<logging::Logger> logger_;
  core::PushHub& hub_;
  const core::PolicyHolder& policy_;
  core::AdmissionCache admissions_;
  core::StreamLimits stream_limits_;
  OpenStreams open_streams_;
  CallsInFlight calls_;
  std::atomic<uint64_t> next_request_id_{1};
  std::atomic<bool> ignored_keys_logged_{false};
};

}  // namespace jss::grpc_service
