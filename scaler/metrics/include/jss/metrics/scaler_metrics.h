#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <string>

#include "jss/core/lag/observer.h"
#include "jss/core/push/push_hub.h"
#include "jss/metrics/bounded_family.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace jss::metrics {

// Every metric the scaler exports, declared once (names in docs/metrics.md).
// Implements the core observer hooks so adapters never see Prometheus types.
// Families labelled with tenant-chosen names are bounded (`limits`): a name
// gets a series only once its consumer was read successfully (failures are
// otherwise counted by connection and reason), idle series expire, and each
// such family holds at most `limits.max_series` (0: no per-name series).
class ScalerMetrics final : public core::NatsObserver,
                            public core::LagObserver,
                            public core::RpcObserver,
                            public core::PushObserver {
 public:
  ScalerMetrics(std::shared_ptr<prometheus::Registry> registry, const std::string& version,
                const std::string& revision, SeriesLimits limits = {},
                const core::Clock* clock = nullptr);

  const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }

  // core::NatsObserver
  void OnConnectionState(std::string_view connection, bool connected) override;
  void OnReconnect(std::string_view connection) override;
  void OnApiLevel(std::string_view connection, int64_t level) override;
  void OnRequestSent(std::string_view connection) override;
  void OnRequestDone(std::string_view connection, std::string_view reason,
                     double seconds) override;
  // core::LagObserver
  void OnLagRead(const core::ConsumerKey& key, const core::LagResult& result) override;
  void OnCacheHit() override;
  void OnCacheSize(size_t entries) override;
  // core::RpcObserver
  void OnRpcDone(std::string_view method, core::StatusCode code, double seconds) override;
  void OnPolicyDenied(std::string_view ns) override;
  // The policy file was re-read after a change: applied (ok) or rejected.
  void OnPolicyReload(bool ok);
  // core::PushObserver
  void OnWatchers(size_t watchers, size_t subscribers) override;
  void OnWakeup() override;
  void OnWakeupFollowUp(const core::ConsumerKey& key, int attempt) override;
  void OnWakeupSubscriptions(int delta) override;
  void OnReadFailed(const core::ConsumerKey& key, std::string_view reason,
                    const core::Status& status, bool first) override;
  void OnReadRecovered(const core::ConsumerKey& key) override;
  void OnPollingFallback(size_t watchers) override;
  void OnWakeupDenied(const core::ConsumerKey& key, const std::string& subject) override;

 private:
  static constexpr size_t kMethods = 6;  // 5 RPCs + "other"
  static constexpr size_t kCodes = 17;

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Gauge>& build_info_;
  prometheus::Family<prometheus::Counter>& rpc_requests_;
  prometheus::Family<prometheus::Histogram>& rpc_duration_;
  prometheus::Family<prometheus::Counter>& nats_requests_;
  prometheus::Family<prometheus::Counter>& nats_errors_;
  prometheus::Family<prometheus::Histogram>& nats_duration_;
  prometheus::Family<prometheus::Gauge>& connection_up_;
  prometheus::Family<prometheus::Gauge>& api_level_;
  prometheus::Family<prometheus::Counter>& reconnects_;
  prometheus::Family<prometheus::Gauge>& consumer_lag_;
  prometheus::Family<prometheus::Gauge>& consumer_paused_;
  prometheus::Family<prometheus::Gauge>& consumer_oldest_age_;
  prometheus::Family<prometheus::Counter>& lag_read_failures_;
  prometheus::Family<prometheus::Counter>& lag_read_errors_;
  prometheus::Family<prometheus::Counter>& series_dropped_;
  prometheus::Counter& cache_hits_;
  prometheus::Gauge& cache_entries_;
  prometheus::Gauge& push_watchers_;
  prometheus::Gauge& push_streams_;
  prometheus::Counter& push_wakeups_;
  prometheus::Counter& push_wakeup_followups_;
  prometheus::Gauge& push_wakeup_subscriptions_;
  prometheus::Family<prometheus::Counter>& push_read_retries_;
  prometheus::Gauge& push_failing_watchers_;
  prometheus::Gauge& push_polling_fallback_;
  prometheus::Counter& push_wakeup_denied_;
  prometheus::Family<prometheus::Counter>& policy_denials_;
  prometheus::Family<prometheus::Counter>& policy_reloads_;
  prometheus::Counter& policy_reloads_ok_;
  prometheus::Counter& policy_reloads_error_;

  const core::SteadyClock steady_clock_;
  BoundedFamily<prometheus::Gauge> lag_series_;
  BoundedFamily<prometheus::Gauge> paused_series_;
  BoundedFamily<prometheus::Gauge> age_series_;
  BoundedFamily<prometheus::Counter> failure_series_;
  BoundedFamily<prometheus::Counter> denial_series_;

  // The RPC path is hot: resolve (method, code) series once, then lock-free.
  std::array<std::array<std::atomic<prometheus::Counter*>, kCodes>, kMethods> rpc_counter_cache_{};
  std::array<std::atomic<prometheus::Histogram*>, kMethods> rpc_histogram_cache_{};
};

}  // namespace jss::metrics
