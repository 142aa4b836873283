#include "jss/server/server.h"

#include <fmt/format.h>
#include <grpc/grpc.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "jss/core/base/scheduler.h"
#include "jss/core/base/status.h"
#include "jss/core/base/strings.h"
#include "jss/core/lag/coalescing_lag_source.h"
#include "jss/core/policy/access_policy.h"
#include "jss/core/push/pacer.h"
#include "jss/core/push/push_hub.h"
#include "jss/core/trigger/duration.h"
#include "jss/grpc/external_scaler_service.h"
#include "jss/metrics/http_server.h"
#include "jss/metrics/scaler_metrics.h"
#include "jss/nats/jetstream/jetstream_age_source.h"
#include "jss/nats/jetstream/jetstream_api.h"
#include "jss/nats/jetstream/jetstream_lag_source.h"
#include "jss/nats/connection/nats_connection.h"
#include "jss/nats/jetstream/nats_wakeup_source.h"
#include "grpc_setup.h"
#include "listen_probe.h"
#include "policy_file.h"
#include "push_event_log.h"
#include "serving_status.h"

namespace jss::server {
namespace {

constexpr std::chrono::seconds kDrainTimeout{5};
constexpr int kMaxRequestBytes = 64 * 1024;
constexpr size_t kGrpcMemoryQuotaBytes = 128u << 20;
// How often grpc.health.v1 re-checks the NATS connections.
constexpr std::chrono::seconds kHealthInterval{1};
// Reads still in flight this long before the drain deadline are failed.
constexpr std::chrono::milliseconds kDrainMargin{300};
// A server replaced by the GOAWAY swap gives calls in flight at most this (plus 1 s) to
// finish: the swap only happens once no NATS connection is usable, so every read fails at
// once anyway, and a long --request-timeout must not keep the old server (and a SIGTERM
// arriving meanwhile) waiting.
constexpr std::chrono::seconds kReplacedServerGraceCap{5};

// Parses the policy file's text, or passes on why it could not be read;
// errors name the file and the fix.
core::StatusOr<core::AccessPolicy> ParsePolicy(const core::StatusOr<std::string>& text,
                                               const std::string& path) {
  if (!text.ok()) return text.status();
  return core::AccessPolicy::Parse(*text, path);
}

// The shared cache's observer: metrics, and (once set) the push hub, which
// takes any successful read of a watched consumer as its own.
class LagFeed final : public core::LagObserver {
 public:
  explicit LagFeed(core::LagObserver& metrics) : metrics_(metrics) {}
  void Feed(core::PushHub* hub) { hub_.store(hub); }
  void OnLagRead(const core::ConsumerKey& key, const core::LagResult& result) override {
    metrics_.OnLagRead(key, result);
    if (core::PushHub* hub = hub_.load()) hub->OnLagRead(key, result);
  }
  void OnCacheHit() override { metrics_.OnCacheHit(); }
  void OnCacheSize(size_t entries) override { metrics_.OnCacheSize(entries); }

 private:
  core::LagObserver& metrics_;
  std::atomic<core::PushHub*> hub_{nullptr};
};

// The age cache's observer: its reads go to the metrics (the age gauge) and
// to the push hub (a KEDA poll of an age trigger saves a watcher its read);
// its size does not (jetstream_scaler_lag_cache_entries counts the lag cache).
class AgeFeed final : public core::LagObserver {
 public:
  explicit AgeFeed(core::LagObserver& metrics) : metrics_(metrics) {}
  void Feed(core::PushHub* hub) { hub_.store(hub); }
  void OnLagRead(const core::ConsumerKey& key, const core::LagResult& result) override {
    metrics_.OnLagRead(key, result);
    if (core::PushHub* hub = hub_.load()) hub->OnLagRead(key, result);
  }
  void OnCacheHit() override { metrics_.OnCacheHit(); }
  void OnCacheSize(size_t) override {}

 private:
  core::LagObserver& metrics_;
  std::atomic<core::PushHub*> hub_{nullptr};
};

class ServerImpl final : public Server {
 public:
  ServerImpl(const app::Config& config, std::shared_ptr<logging::Logger> logger)
      : config_(config), logger_(std::move(logger)) {}
  ~ServerImpl() override { Stop(); }

  core::Status Init() {
    metrics::SeriesLimits series_limits;
    series_limits.max_series = config_.metrics_max_series;
    metrics_ = std::make_unique<metrics::ScalerMetrics>(
        std::make_shared<prometheus::Registry>(), app::BuildVersion(), app::BuildRevision(),
        series_limits);
    // Push watchers, the pacer, policy reloads and the health status.
    scheduler_ = std::make_unique<core::ThreadScheduler>();
    // NATS request deadlines and PINGs get a scheduler thread of their own:
    // failing a read at its deadline must not queue behind push watchers'
    // and the pacer's tasks (sharing one thread, answers under TSan missed
    // KEDA's deadline by up to 35 ms in ResilienceTest.TenfoldOverload).
    nats_deadlines_ = std::make_unique<core::ThreadScheduler>();

    if (core::Status s = OpenNatsConnections(); !s.ok()) return s;
    jetstream_ = std::make_unique<nats::JetStreamLagSource>(jetstream_connections_, logger_);
    // Every read of the shared cache also feeds the push watchers (once the
    // hub exists), so a KEDA poll of a watched consumer saves it a read.
    lag_feed_ = std::make_unique<LagFeed>(*metrics_);
    // A caller that joins a shared read is answered at its own deadline, on
    // the thread that fails NATS requests at theirs.
    coalescing_ = std::make_unique<core::CoalescingLagSource>(
        *jetstream_, clock_, config_.lag_cache_ttl, *lag_feed_, nats_deadlines_.get());
    // Age triggers (ageThreshold) read through a cache of their own, shared
    // and bounded like the lag reads: one CONSUMER.INFO plus the message gets
    // per consumer per freshness window, however many ScaledObjects ask.
    age_reader_ = std::make_unique<nats::OldestMessageAgeReader>(jetstream_connections_);
    age_source_ = std::make_unique<nats::JetStreamAgeSource>(*age_reader_);
    age_feed_ = std::make_unique<AgeFeed>(*metrics_);
    age_cache_ = std::make_unique<core::CoalescingLagSource>(
        *age_source_, clock_, config_.lag_cache_ttl, *age_feed_, nats_deadlines_.get());
    selector_ = std::make_unique<core::ConnectionSelector>(config_.connections);
    if (!config_.policy_file.empty()) {
      auto text = ReadRegularFile("policy-file", config_.policy_file);
      auto policy = ParsePolicy(text, config_.policy_file);
      if (!policy.ok()) return policy.status();
      logger_->Info("access policy loaded", {{"file", config_.policy_file},
                                             {"rules", fmt::format("{}", policy->rule_count())}});
      policy_.Replace(std::move(*policy));
      StartPolicyReloads(*text);
    }
    StartPushWatchers();
    grpc_service::ServiceOptions service_options;
    service_options.request_timeout = config_.request_timeout;
    service_options.push_interval = config_.push_interval;
    service_options.max_streams = config_.max_streams;
    service_options.max_streams_per_connection = config_.max_streams_per_connection;
    service_options.min_push_interval = config_.min_push_interval;
    service_options.max_stream_age = config_.grpc_max_connection_age;
    service_ = std::make_unique<grpc_service::ExternalScalerService>(
        *coalescing_, *age_cache_, *selector_, service_options, *metrics_, logger_, *hub_, policy_,
        scheduler_.get());

    auto creds = GrpcCredentials(config_);
    if (!creds.ok()) return creds.status();
    creds_ = *creds;
    grpc::EnableDefaultHealthCheckService(true);
    // `grpcurl list` / `describe` work against a running scaler.
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
    // gRPC's SO_REUSEPORT would let a second scaler share the port silently.
    if (core::Status s = ProbeListenAddress("grpc-address", config_.grpc_address); !s.ok()) {
      return s;
    }
    grpc_server_ = BuildGrpcServer(config_.grpc_address, &grpc_port_);
    if (grpc_server_ == nullptr || grpc_port_ == 0) {
      return core::InvalidArgumentError(fmt::format(
          "--grpc-address \"{}\": cannot listen there (bad host:port, or the port is in use)",
          config_.grpc_address));
    }
    auto http = metrics::HttpServer::Start(
        config_.metrics_address, metrics_->registry(), [this] { return Ready(); },
        [this] { return NoneDead(); }, config_.probe_address);
    if (!http.ok()) return http.status();
    http_ = std::move(*http);
    serving_status_ = std::make_unique<ServingStatus>(
        *grpc_server_->GetHealthCheckService(), *scheduler_, [this] { return Ready(); },
        kHealthInterval, logger_,
        [this](std::chrono::steady_clock::duration) { MaybeLetConnectionsGo(); });
    serving_status_->Start();
    logger_->Info("jetstream-scaler started",
                  {{"version", app::VersionText()},
                   {"grpc_port", fmt::format("{}", grpc_port_)},
                   {"metrics_port", fmt::format("{}", http_->port())},
                   {"grpc_tls", config_.grpc_tls_cert_file.empty()        ? "off"
                                : config_.grpc_tls_client_ca_file.empty() ? "on"
                                                                          : "mtls"},
                   {"policy", config_.policy_file.empty() ? "allow-all" : config_.policy_file},
                   {"ready_when", config_.ready_when},
                   {"connections", fmt::format("{}", connections_.size())}});
    return core::OkStatus();
  }

  int grpc_port() const override { return grpc_port_; }
  int metrics_port() const override { return http_ ? http_->port() : 0; }

  void Stop() override {
    if (stopped_) return;
    stopped_ = true;
    if (policy_reloader_) policy_reloader_->Stop();
    {
      std::lock_guard<std::mutex> lock(grpc_mu_);
      stopping_ = true;
      // A server being replaced (GOAWAY swap) is not waited for: its calls are cancelled
      // now (a health Watch would otherwise hold it, and SIGTERM, for its whole grace).
      if (replaced_server_ != nullptr) grpc_server_cancel_all_calls(replaced_server_->c_server());
    }
    // A replacement in progress ends as soon as its handlers do.
    if (recycle_thread_.joinable()) recycle_thread_.join();
    if (grpc_server_) {
      // Every service NOT_SERVING from now on, whatever NATS does.
      if (serving_status_) serving_status_->Stop();
      grpc_server_->GetHealthCheckService()->Shutdown();
      // Open streams end now with OK, so KEDA reconnects to another replica
      // at once (a clean end also resets its reconnect back-off) instead of
      // waiting for the drain deadline.
      hub_->Shutdown();
      service_->CloseStreams();
      // In-flight RPCs normally finish on their own. gRPC cancels those
      // still running at the drain deadline but waits for their handlers,
      // and a handler ends only when its NATS read does (up to
      // --request-timeout). So shortly before the deadline every read still
      // in flight is failed with UNAVAILABLE: KEDA gets a typed answer and
      // the process exits within its grace period.
      std::mutex drain_mu;
      std::condition_variable drain_cv;
      bool drained = false;
      const auto drain_start = std::chrono::steady_clock::now();
      std::thread guard([&] {
        const auto& calls = service_->calls_in_flight();
        if (!calls.AwaitIdle(drain_start + kDrainTimeout - kDrainMargin)) {
          {
            std::lock_guard<std::mutex> lock(drain_mu);
            if (drained) return;
          }
          logger_->Warn("drain deadline near: failing NATS reads still in flight");
          for (auto& c : connections_) {
            c->FailPending(core::UnavailableError("the scaler is shutting down"));
          }
          if (!calls.AwaitIdle(drain_start + kDrainTimeout)) return;
        }
        // Every call of ours has ended. gRPC's graceful shutdown would still wait, up to
        // the deadline, for each connection to answer the GOAWAY's PING, and a client
        // that is not reading (a partitioned node, a stalled or hostile caller, a health
        // Watch's) never does. Nothing is left to drain: close those connections now, and
        // again until the drain ends (the first time may come just before Shutdown has
        // begun, and a connection accepted meanwhile would hold it again).
        std::unique_lock<std::mutex> lock(drain_mu);
        while (!drained && std::chrono::steady_clock::now() < drain_start + kDrainTimeout) {
          if (calls.count() == 0) grpc_server_cancel_all_calls(grpc_server_->c_server());
          drain_cv.wait_for(lock, std::chrono::milliseconds(50), [&] { return drained; });
        }
      });
      grpc_server_->Shutdown(std::chrono::system_clock::now() + kDrainTimeout);
      grpc_server_->Wait();
      {
        std::lock_guard<std::mutex> lock(drain_mu);
        drained = true;
      }
      drain_cv.notify_all();
      guard.join();
      logger_->Debug("gRPC server drained");
    }
    http_.reset();
    logger_->Debug("HTTP server stopped");
    for (auto& c : connections_) c->Shutdown();
    logger_->Info("jetstream-scaler stopped");
  }

 private:
  // One NatsConnection per configured connection, registered for JetStream reads.
  core::Status OpenNatsConnections() {
    for (const auto& c : config_.connections) {
      nats::NatsConnectionOptions opts;
      opts.name = c.name;
      opts.servers = c.servers;
      opts.auth = AuthFor(c.name);
      opts.max_in_flight = config_.max_in_flight;
      // A write may block at most half a read's budget: a peer that stops
      // reading is dropped (and reconnected) while the read can still fail
      // with a clear error instead of freezing the thread that sent it.
      opts.write_deadline = std::clamp<std::chrono::milliseconds>(
          config_.request_timeout / 2, std::chrono::milliseconds(100),
          std::chrono::milliseconds(1000));
      opts.ping_interval = config_.nats_ping_interval;
      // A PONG takes one round trip; a peer slower than a whole read's budget
      // is of no use to KEDA either.
      opts.pong_timeout = std::clamp<std::chrono::milliseconds>(
          config_.request_timeout, std::chrono::milliseconds(100),
          std::chrono::milliseconds(2000));
      auto conn = nats::NatsConnection::Open(std::move(opts), *metrics_, logger_, *nats_deadlines_);
      if (!conn.ok()) return conn.status();
      jetstream_connections_.Add(c.name, conn->get(), AuthFor(c.name).js_domain);
      connections_.push_back(std::move(*conn));
    }
    return core::OkStatus();
  }

  // The push side (StreamIsActive): its rate limit, wake-ups and the shared watchers.
  void StartPushWatchers() {
    // Push watchers' JetStream requests (first reads of 10,000 streams
    // opening at once, re-reads, wake-up set-ups) share one rate limit.
    const auto read_rate = static_cast<double>(config_.push_read_rate);
    pacer_ = std::make_unique<core::RatePacer>(*scheduler_, clock_, read_rate,
                                               std::max(1.0, read_rate / 10));
    push_log_ = std::make_unique<PushEventLog>(*metrics_, logger_);
    if (config_.push_wakeup) {
      wakeups_ = std::make_unique<nats::NatsWakeupSource>(
          jetstream_connections_, config_.request_timeout, logger_, push_log_.get(),
          pacer_.get(), config_.push_max_wakeup_subjects);
    }
    // Watchers read through the shared caches (the age cache while a consumer
    // has an age subscriber), asking for a fresh enough request (a wake-up
    // read never takes a value older than the publish).
    hub_ = std::make_unique<core::PushHub>(
        *coalescing_, *scheduler_, clock_, wakeups_.get(), pacer_.get(),
        core::PushHubOptions{config_.request_timeout, config_.push_idle_resync},
        push_log_.get(), age_cache_.get());
    lag_feed_->Feed(hub_.get());
    age_feed_->Feed(hub_.get());
  }

  // One gRPC server with the scaler's services, listening on `address`. Two of them can
  // listen on one port at once (gRPC sets SO_REUSEPORT on Linux), which is how the server is
  // replaced while NATS is down (LetConnectionsGo).
  std::unique_ptr<grpc::Server> BuildGrpcServer(const std::string& address, int* port) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort(address, creds_, port);
    SetConnectionArgs(config_, builder);
    builder.RegisterService(service_.get());
    // Trigger metadata is a few hundred bytes; anything near this limit is
    // hostile and is refused by gRPC (RESOURCE_EXHAUSTED) before it is
    // parsed, echoed or logged.
    builder.SetMaxReceiveMessageSize(kMaxRequestBytes);
    // Memory gRPC itself may use for connections and calls (beyond it gRPC
    // sheds load instead of growing): well inside the chart's 256Mi limit.
    grpc::ResourceQuota quota("jetstream-scaler");
    quota.Resize(kGrpcMemoryQuotaBytes);
    builder.SetResourceQuota(quota);
    return builder.BuildAndStart();
  }

  // Called on every health check. KEDA's one connection stays on this replica even though
  // the replica left the Service (not ready): once NO connection has been usable for
  // --grpc-goaway-after-nats-down the connections are let go so KEDA's next connection goes
  // through the Service to a ready replica; again at most that often while NATS stays down.
  // While any connection is usable there is no swap (whatever --ready-when says): a swap
  // ends every stream and GOAWAYs every call, and those on the usable connection do not
  // depend on the lost one. Runs on the scheduler inside ServingStatus's lock: it only
  // starts the work.
  void MaybeLetConnectionsGo() {
    const auto now = std::chrono::steady_clock::now();
    if (AnyUsable()) {
      none_usable_since_.reset();
      return;
    }
    if (!none_usable_since_) none_usable_since_ = now;
    const auto down = now - *none_usable_since_;
    const auto after = config_.grpc_goaway_after_nats_down;
    if (after.count() == 0 || down < after) return;
    std::lock_guard<std::mutex> lock(grpc_mu_);
    if (stopping_ || recycling_ || (recycled_once_ && now - last_recycle_ < after)) return;
    recycling_ = true;
    recycled_once_ = true;
    last_recycle_ = now;
    if (recycle_thread_.joinable()) recycle_thread_.join();  // the last one has finished
    recycle_thread_ = std::thread([this, down] { LetConnectionsGo(down); });
  }

  // gRPC 1.51's C++ API cannot send GOAWAY on a connection, but Shutdown() sends it on every
  // connection of a server. So a replacement server with the same services starts on the
  // same address first, open streams end with OK (KEDA reopens them after 2 s on its new
  // connection, and an OK end resets its back-off), and then the old server shuts down:
  // GOAWAY, unary calls in flight get --request-timeout (at most 5 s) + 1 s to finish, or
  // none once Stop() has begun.
  void LetConnectionsGo(std::chrono::steady_clock::duration down) {
    std::string address = config_.grpc_address;
    address = fmt::format("{}{}", address.substr(0, address.rfind(':') + 1), grpc_port_);
    std::unique_ptr<grpc::Server> fresh = BuildGrpcServer(address, nullptr);
    std::unique_ptr<grpc::Server> old;
    grpc::Server* current = nullptr;
    {
      std::lock_guard<std::mutex> lock(grpc_mu_);
      if (fresh == nullptr || stopping_) {
        recycling_ = false;
        if (fresh == nullptr) {
          logger_->Warn("could not start a replacement gRPC server; KEDA's connections stay",
                        {{"address", address}});
        }
        if (fresh) fresh->Shutdown();
        return;
      }
      old = std::move(grpc_server_);
      grpc_server_ = std::move(fresh);
      current = grpc_server_.get();
      replaced_server_ = old.get();
    }
    logger_->Warn(
        "NATS unusable: letting gRPC connections go (GOAWAY) so KEDA reconnects to a ready "
        "replica",
        {{"nats_down_for", core::FormatDuration(
                               std::chrono::duration_cast<std::chrono::milliseconds>(down))}});
    serving_status_->Rebind(*current->GetHealthCheckService());
    service_->EndOpenStreams();
    const auto grace = std::min<std::chrono::milliseconds>(config_.request_timeout,
                                                           kReplacedServerGraceCap) +
                       std::chrono::seconds(1);
    old->Shutdown(std::chrono::system_clock::now() + grace);
    old->Wait();
    logger_->Debug("replaced gRPC server drained");
    std::lock_guard<std::mutex> lock(grpc_mu_);
    replaced_server_ = nullptr;
    recycling_ = false;
  }

  // ParseConfig resolves every connection; a Config built in code (tests,
  // embedding) may only set the plain fields, which then apply to all.
  const core::NatsAuth& AuthFor(const std::string& connection) const {
    auto it = config_.nats_auth.find(connection);
    return it != config_.nats_auth.end() ? it->second : config_.nats_default_auth;
  }

  // Re-reads the policy file every --reload-interval (a ConfigMap update reaches the pod
  // without a restart), on the reloader's own thread. A broken edit keeps the last good
  // policy in force and is logged, so a typo never opens or closes access.
  void StartPolicyReloads(std::string current) {
    policy_reloader_ = std::make_unique<PolicyReloader>(
        config_.policy_file, config_.reload_interval, std::move(current),
        [this](const core::StatusOr<std::string>& text) {
          auto policy = ParsePolicy(text, config_.policy_file);
          if (!policy.ok()) {
            logger_->Error("access policy not reloaded; the previous one stays in force",
                           {{"error", policy.status().message()}});
            metrics_->OnPolicyReload(false);
            return;
          }
          logger_->Info("access policy reloaded",
                        {{"file", config_.policy_file},
                         {"rules", fmt::format("{}", policy->rule_count())}});
          policy_.Replace(std::move(*policy));
          metrics_->OnPolicyReload(true);
        });
  }

  bool NoneDead() const {
    for (const auto& c : connections_) {
      if (c->IsDead()) return false;
    }
    return true;
  }

  // Usable: connected, and its peer is reading and answering what we write.
  static bool Usable(const nats::NatsConnection& c) {
    return c.IsConnected() && !c.IsStalled();
  }
  bool AnyUsable() const {
    return std::any_of(connections_.begin(), connections_.end(),
                       [](const auto& c) { return Usable(*c); });
  }
  // /readyz and gRPC health (--ready-when): with "any" a replica that can still serve the
  // triggers of one connection stays in the Service (if `eu` is down everywhere, taking
  // every replica out would stop `default`'s tenants scaling too); with "all" it leaves as
  // soon as one connection is unusable. Which one is down: nats_connection_up{connection}.
  bool Ready() const {
    if (connections_.empty()) return false;
    if (config_.ready_when == "all") {
      return std::all_of(connections_.begin(), connections_.end(),
                         [](const auto& c) { return Usable(*c); });
    }
    return AnyUsable();
  }

  const app::Config config_;
  std::shared_ptr<logging::Logger> logger_;
  core::SteadyClock clock_;
  std::unique_ptr<metrics::ScalerMetrics> metrics_;
  std::vector<std::unique_ptr<nats::NatsConnection>> connections_;
  nats::JetStreamConnections jetstream_connections_;
  std::unique_ptr<nats::JetStreamLagSource> jetstream_;
  std::unique_ptr<LagFeed> lag_feed_;
  std::unique_ptr<core::CoalescingLagSource> coalescing_;
  std::unique_ptr<nats::OldestMessageAgeReader> age_reader_;
  std::unique_ptr<nats::JetStreamAgeSource> age_source_;
  std::unique_ptr<AgeFeed> age_feed_;
  std::unique_ptr<core::CoalescingLagSource> age_cache_;
  std::unique_ptr<core::ConnectionSelector> selector_;
  core::PolicyHolder policy_{core::AccessPolicy::AllowAll()};
  std::unique_ptr<PolicyReloader> policy_reloader_;  // stopped first: it applies to policy_
  // Outlives the scheduler, whose tasks call it.
  std::unique_ptr<ServingStatus> serving_status_;
  std::unique_ptr<core::ThreadScheduler> scheduler_;
  // Stop() shuts every connection down (cancelling its tasks) before this goes.
  std::unique_ptr<core::ThreadScheduler> nats_deadlines_;
  std::unique_ptr<PushEventLog> push_log_;  // outlives the wake-up source, which reports to it
  std::unique_ptr<nats::NatsWakeupSource> wakeups_;
  std::unique_ptr<core::PushHub> hub_;
  // Destroyed before the hub (its queue holds reads of the hub's watchers).
  std::unique_ptr<core::RatePacer> pacer_;
  std::unique_ptr<grpc_service::ExternalScalerService> service_;
  std::shared_ptr<grpc::ServerCredentials> creds_;
  // grpc_server_ is replaced (LetConnectionsGo) under grpc_mu_; Stop() waits for that.
  std::mutex grpc_mu_;
  std::unique_ptr<grpc::Server> grpc_server_;
  grpc::Server* replaced_server_ = nullptr;  // the old server while a swap drains it
  std::thread recycle_thread_;
  bool stopping_ = false;
  bool recycling_ = false;
  bool recycled_once_ = false;
  std::chrono::steady_clock::time_point last_recycle_;
  // Since when no connection has been usable; only touched on the scheduler thread.
  std::optional<std::chrono::steady_clock::time_point> none_usable_since_;
  std::unique_ptr<metrics::HttpServer> http_;
  int grpc_port_ = 0;
  bool stopped_ = false;
};

}  // namespace

core::StatusOr<std::unique_ptr<Server>> Server::Start(const app::Config& config,
                                                      std::shared_ptr<logging::Logger> logger) {
  auto server = std::make_unique<ServerImpl>(config, std::move(logger));
  if (core::Status s = server->Init(); !s.ok()) return s;
  return std::unique_ptr<Server>(std::move(server));
}

}  // namespace jss::server
