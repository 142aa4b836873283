#include "jss/metrics/scaler_metrics.h"

#include <cctype>
#include <string>

namespace jss::metrics {
namespace {

constexpr std::string_view kMethodNames[] = {"IsActive",       "GetMetricSpec",    "GetMetrics",
                                             "StreamIsActive", "StreamMetricSpec", "other"};

size_t MethodIndex(std::string_view method) {
  for (size_t i = 0; i + 1 < std::size(kMethodNames); ++i) {
    if (kMethodNames[i] == method) return i;
  }
  return std::size(kMethodNames) - 1;
}

// Latency buckets from 50us (cache hit) to 10s (beyond any sane deadline).
const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
      0.05,    0.1,    0.25,    0.5,    1,     2.5,    5,     10};
  return kBuckets;
}

// "NOT_FOUND" -> "not_found": the style of the other reason labels.
std::string ReasonLabel(core::StatusCode code) {
  std::string reason(core::StatusCodeName(code));
  for (char& c : reason) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return reason;
}

// Every metric this scaler exports, named and described once.
struct MetricDef {
  const char* name;
  const char* help;
};
constexpr MetricDef kBuildInfo{"jetstream_scaler_build_info", "Build information; always 1."};
constexpr MetricDef kRpcRequests{"jetstream_scaler_grpc_requests_total",
                                 "ExternalScaler RPCs answered, by method and gRPC status code."};
constexpr MetricDef kRpcDuration{"jetstream_scaler_grpc_request_duration_seconds",
                                 "Time to answer an ExternalScaler RPC, by method."};
constexpr MetricDef kNatsRequests{"jetstream_scaler_nats_requests_total",
                                  "JetStream API requests sent to NATS, by connection."};
constexpr MetricDef kNatsErrors{"jetstream_scaler_nats_request_errors_total",
                                "JetStream API requests that failed, by connection and reason."};
constexpr MetricDef kNatsDuration{"jetstream_scaler_nats_request_duration_seconds",
                                  "JetStream API request round-trip time, by connection."};
constexpr MetricDef kConnectionUp{"jetstream_scaler_nats_connection_up",
                                  "1 while the NATS connection is connected, else 0."};
constexpr MetricDef kApiLevel{"jetstream_scaler_nats_api_level",
                              "JetStream API level of the server reached at the last (re)connect "
                              "($JS.API.INFO api.level, nats-server 2.11+); 0 when it reported "
                              "none or refused to say."};
constexpr MetricDef kReconnects{"jetstream_scaler_nats_reconnects_total",
                                "Times the NATS connection was re-established."};
constexpr MetricDef kConsumerLag{"jetstream_scaler_consumer_lag",
                                 "Last lag (num_pending + num_ack_pending) read for a consumer."};
constexpr MetricDef kConsumerPaused{"jetstream_scaler_consumer_paused",
                                    "1 while the last read found the consumer paused "
                                    "(nats-server 2.11+), 0 once a paused consumer resumed; "
                                    "its lag is still reported as read."};
constexpr MetricDef kConsumerOldestAge{
    "jetstream_scaler_consumer_oldest_age_seconds",
    "Age of the consumer's oldest unacknowledged message at the last age read (age triggers, "
    "ageThreshold), 0 when nothing waits; only consumers some age trigger reads."};
constexpr MetricDef kLagReadFailures{"jetstream_scaler_consumer_lag_read_failures_total",
                                     "Failed lag reads of a consumer that was read "
                                     "successfully before, by consumer."};
constexpr MetricDef kLagReadErrors{"jetstream_scaler_lag_read_errors_total",
                                   "Consumer lag reads that failed, by connection and reason."};
constexpr MetricDef kSeriesDropped{"jetstream_scaler_metric_series_dropped_total",
                                   "Series not created because their family reached its cap "
                                   "(--metrics-max-series), by family."};
constexpr MetricDef kCacheHits{"jetstream_scaler_lag_cache_hits_total",
                               "Lag reads answered from the freshness window without NATS."};
constexpr MetricDef kCacheEntries{"jetstream_scaler_lag_cache_entries",
                                  "Consumers currently tracked by the lag cache."};
constexpr MetricDef kPushWatchers{"jetstream_scaler_push_watchers",
                                  "Consumers watched for StreamIsActive (one per consumer)."};
constexpr MetricDef kPushStreams{"jetstream_scaler_push_streams", "Open StreamIsActive streams."};
constexpr MetricDef kPushWakeups{"jetstream_scaler_push_wakeups_total",
                                 "Immediate lag reads triggered by a publish on an idle consumer."};
constexpr MetricDef kPushWakeupFollowUps{
    "jetstream_scaler_push_wakeup_followups_total",
    "Extra reads after a wake-up read showed the lag from before the publish (the server had "
    "not stored it yet); at most 2 per wake-up."};
constexpr MetricDef kPushWakeupSubscriptions{
    "jetstream_scaler_push_wakeup_subscriptions",
    "Core NATS subscriptions held to wake idle watched consumers."};
constexpr MetricDef kPushReadRetries{"jetstream_scaler_push_read_retries_total",
                                     "Watcher reads that failed and are retried with back-off "
                                     "(the streams stay open), by reason."};
constexpr MetricDef kPushFailingWatchers{"jetstream_scaler_push_failing_watchers",
                                         "Watched consumers whose last read failed (retrying "
                                         "with back-off; their streams hear nothing meanwhile)."};
constexpr MetricDef kPushPollingFallback{"jetstream_scaler_push_polling_fallback_watchers",
                                         "Idle watched consumers polled every pushInterval "
                                         "because their wake-up is off or unavailable."};
constexpr MetricDef kPushWakeupDenied{"jetstream_scaler_push_wakeup_denied_total",
                                      "Wake-up subscriptions NATS refused (no subscribe "
                                      "permission on the consumer's subjects); the watcher "
                                      "polls every pushInterval instead."};
constexpr MetricDef kPolicyDenials{
    "jetstream_scaler_policy_denials_total",
    "Queries refused by the access policy, by Kubernetes namespace."};
constexpr MetricDef kPolicyReloads{"jetstream_scaler_policy_reloads_total",
                                   "Policy file changes applied (ok) or rejected (error; the "
                                   "previous policy stays in force)."};

prometheus::Family<prometheus::Counter>& FamilyCounter(prometheus::Registry& r,
                                                       const MetricDef& d) {
  return prometheus::BuildCounter().Name(d.name).Help(d.help).Register(r);
}
prometheus::Family<prometheus::Gauge>& FamilyGauge(prometheus::Registry& r, const MetricDef& d) {
  return prometheus::BuildGauge().Name(d.name).Help(d.help).Register(r);
}
prometheus::Family<prometheus::Histogram>& FamilyHistogram(prometheus::Registry& r,
                                                           const MetricDef& d) {
  return prometheus::BuildHistogram().Name(d.name).Help(d.help).Register(r);
}
// The one series of a family without labels.
prometheus::Counter& OneCounter(prometheus::Registry& r, const MetricDef& d) {
  return FamilyCounter(r, d).Add({});
}
prometheus::Gauge& OneGauge(prometheus::Registry& r, const MetricDef& d) {
  return FamilyGauge(r, d).Add({});
}

}  // namespace

ScalerMetrics::ScalerMetrics(std::shared_ptr<prometheus::Registry> registry,
                             const std::string& version, const std::string& revision,
                             SeriesLimits limits, const core::Clock* clock)
    : registry_(std::move(registry)),
      build_info_(FamilyGauge(*registry_, kBuildInfo)),
      rpc_requests_(FamilyCounter(*registry_, kRpcRequests)),
      rpc_duration_(FamilyHistogram(*registry_, kRpcDuration)),
      nats_requests_(FamilyCounter(*registry_, kNatsRequests)),
      nats_errors_(FamilyCounter(*registry_, kNatsErrors)),
      nats_duration_(FamilyHistogram(*registry_, kNatsDuration)),
      connection_up_(FamilyGauge(*registry_, kConnectionUp)),
      api_level_(FamilyGauge(*registry_, kApiLevel)),
      reconnects_(FamilyCounter(*registry_, kReconnects)),
      consumer_lag_(FamilyGauge(*registry_, kConsumerLag)),
      consumer_paused_(FamilyGauge(*registry_, kConsumerPaused)),
      consumer_oldest_age_(FamilyGauge(*registry_, kConsumerOldestAge)),
      lag_read_failures_(FamilyCounter(*registry_, kLagReadFailures)),
      lag_read_errors_(FamilyCounter(*registry_, kLagReadErrors)),
      series_dropped_(FamilyCounter(*registry_, kSeriesDropped)),
      cache_hits_(OneCounter(*registry_, kCacheHits)),
      cache_entries_(OneGauge(*registry_, kCacheEntries)),
      push_watchers_(OneGauge(*registry_, kPushWatchers)),
      push_streams_(OneGauge(*registry_, kPushStreams)),
      push_wakeups_(OneCounter(*registry_, kPushWakeups)),
      push_wakeup_followups_(OneCounter(*registry_, kPushWakeupFollowUps)),
      push_wakeup_subscriptions_(OneGauge(*registry_, kPushWakeupSubscriptions)),
      push_read_retries_(FamilyCounter(*registry_, kPushReadRetries)),
      push_failing_watchers_(OneGauge(*registry_, kPushFailingWatchers)),
      push_polling_fallback_(OneGauge(*registry_, kPushPollingFallback)),
      push_wakeup_denied_(OneCounter(*registry_, kPushWakeupDenied)),
      policy_denials_(FamilyCounter(*registry_, kPolicyDenials)),
      policy_reloads_(FamilyCounter(*registry_, kPolicyReloads)),
      policy_reloads_ok_(policy_reloads_.Add({{"result", "ok"}})),
      policy_reloads_error_(policy_reloads_.Add({{"result", "error"}})),
      lag_series_(consumer_lag_, limits, series_dropped_.Add({{"family", kConsumerLag.name}}),
                  clock != nullptr ? *clock : steady_clock_),
      paused_series_(consumer_paused_, limits,
                     series_dropped_.Add({{"family", kConsumerPaused.name}}),
                     clock != nullptr ? *clock : steady_clock_),
      age_series_(consumer_oldest_age_, limits,
                  series_dropped_.Add({{"family", kConsumerOldestAge.name}}),
                  clock != nullptr ? *clock : steady_clock_),
      failure_series_(lag_read_failures_, limits,
                      series_dropped_.Add({{"family", kLagReadFailures.name}}),
                      clock != nullptr ? *clock : steady_clock_),
      denial_series_(policy_denials_, limits,
                     series_dropped_.Add({{"family", kPolicyDenials.name}}),
                     clock != nullptr ? *clock : steady_clock_) {
  build_info_.Add({{"version", version}, {"revision", revision}}).Set(1);
}

void ScalerMetrics::OnConnectionState(std::string_view connection, bool connected) {
  connection_up_.Add({{"connection", std::string(connection)}}).Set(connected ? 1 : 0);
}

void ScalerMetrics::OnApiLevel(std::string_view connection, int64_t level) {
  api_level_.Add({{"connection", std::string(connection)}}).Set(static_cast<double>(level));
}

void ScalerMetrics::OnReconnect(std::string_view connection) {
  reconnects_.Add({{"connection", std::string(connection)}}).Increment();
}

void ScalerMetrics::OnRequestSent(std::string_view connection) {
  nats_requests_.Add({{"connection", std::string(connection)}}).Increment();
}

void ScalerMetrics::OnRequestDone(std::string_view connection, std::string_view reason,
                                  double seconds) {
  if (reason == "ok") {
    nats_duration_.Add({{"connection", std::string(connection)}}, LatencyBuckets())
        .Observe(seconds);
    return;
  }
  nats_errors_.Add({{"connection", std::string(connection)}, {"reason", std::string(reason)}})
      .Increment();
}

void ScalerMetrics::OnLagRead(const core::ConsumerKey& key, const core::LagResult& result) {
  const prometheus::Labels labels = {
      {"connection", key.connection}, {"stream", key.stream}, {"consumer", key.consumer}};
  if (result.ok()) {
    if (auto* lag = lag_series_.Get(labels)) lag->Set(static_cast<double>(result->Total()));
    // A series only for consumers seen paused (0 after they resume, until it
    // expires): nothing for the common case of consumers never paused.
    if (auto* paused = paused_series_.Get(labels, /*create=*/result->paused)) {
      paused->Set(result->paused ? 1 : 0);
    }
    // Age reads (age triggers) only: a lag read leaves the age series alone.
    if (result->oldest_age_ms.has_value()) {
      if (auto* age = age_series_.Get(labels)) {
        age->Set(core::AgeSeconds(*result->oldest_age_ms));
      }
    }
    return;
  }
  // Names nobody ever read successfully (typos, probes, forged names) get no
  // series of their own: the failure counts by connection and reason only.
  lag_read_errors_
      .Add({{"connection", key.connection}, {"reason", ReasonLabel(result.status().code())}})
      .Increment();
  if (lag_series_.Contains(labels)) {
    if (auto* failures = failure_series_.Get(labels)) failures->Increment();
  }
}

void ScalerMetrics::OnCacheHit() { cache_hits_.Increment(); }

void ScalerMetrics::OnCacheSize(size_t entries) {
  cache_entries_.Set(static_cast<double>(entries));
}

void ScalerMetrics::OnWatchers(size_t watchers, size_t subscribers) {
  push_watchers_.Set(static_cast<double>(watchers));
  push_streams_.Set(static_cast<double>(subscribers));
}

void ScalerMetrics::OnWakeup() { push_wakeups_.Increment(); }

void ScalerMetrics::OnWakeupFollowUp(const core::ConsumerKey&, int) {
  push_wakeup_followups_.Increment();
}

void ScalerMetrics::OnReadFailed(const core::ConsumerKey&, std::string_view reason,
                                 const core::Status&, bool first) {
  // `reason` is one of a few fixed tokens: bounded series.
  push_read_retries_.Add({{"reason", std::string(reason)}}).Increment();
  if (first) push_failing_watchers_.Increment();
}

void ScalerMetrics::OnReadRecovered(const core::ConsumerKey&) {
  push_failing_watchers_.Decrement();
}

void ScalerMetrics::OnPollingFallback(size_t watchers) {
  push_polling_fallback_.Set(static_cast<double>(watchers));
}

void ScalerMetrics::OnWakeupDenied(const core::ConsumerKey&, const std::string&) {
  push_wakeup_denied_.Increment();
}

void ScalerMetrics::OnPolicyReload(bool ok) {
  (ok ? policy_reloads_ok_ : policy_reloads_error_).Increment();
}

void ScalerMetrics::OnPolicyDenied(std::string_view ns) {
  if (auto* denials = denial_series_.Get({{"scaledobject_namespace", std::string(ns)}})) {
    denials->Increment();
  }
}

void ScalerMetrics::OnWakeupSubscriptions(int delta) {
  push_wakeup_subscriptions_.Increment(static_cast<double>(delta));
}

void ScalerMetrics::OnRpcDone(std::string_view method, core::StatusCode code, double seconds) {
  const size_t m = MethodIndex(method);
  size_t c = static_cast<size_t>(code);
  if (c >= kCodes) c = static_cast<size_t>(core::StatusCode::kUnknown);
  prometheus::Counter* counter = rpc_counter_cache_[m][c].load(std::memory_order_acquire);
  if (counter == nullptr) {
    // Family::Add is idempotent and thread-safe; racing threads get one series.
    counter = &rpc_requests_.Add({{"method", std::string(kMethodNames[m])},
                                  {"code", std::string(core::StatusCodeName(code))}});
    rpc_counter_cache_[m][c].store(counter, std::memory_order_release);
  }
  counter->Increment();
  prometheus::Histogram* histogram = rpc_histogram_cache_[m].load(std::memory_order_acquire);
  if (histogram == nullptr) {
    histogram = &rpc_duration_.Add({{"method", std::string(kMethodNames[m])}}, LatencyBuckets());
    rpc_histogram_cache_[m].store(histogram, std::memory_order_release);
  }
  histogram->Observe(seconds);
}

}  // namespace jss::metrics
