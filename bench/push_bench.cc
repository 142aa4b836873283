// push_bench: KEDA's external-push at scale. For each row: the real
// jetstream-scaler binary, N StreamIsActive streams (one consumer each) all
// multiplexed on one gRPC channel as KEDA does, then
//   - time until every stream has its first value,
//   - idle cost: JetStream API requests the scaler sent while every consumer
//     was idle, counted by nats-server itself (/connz in_msgs of the
//     scaler's connection), per consumer per second,
//   - scaler and nats-server CPU during that idle window, scaler RSS,
//   - publish -> `true` latency on idle consumers (p50/p99/max),
//   - JetStream API requests nats-server dropped during the row (2.10.27+:
//     $JS.EVENT.ADVISORY.API.LIMIT_REACHED advisories, counted by a system-
//     account client; run with JSS_NATS_SERVER=$(scripts/nats-server.sh v2.15.3)).
// See docs/benchmarks.md.
//
//   push_bench [--watched 10000,1000] [--wakeup-off 1000] [--samples 200]
//              [--idle-seconds 45] [--out FILE] [--scaler-arg ARG]...
//              [--scaler-env NAME=VALUE]... [--hold-seconds N]
//
// --scaler-arg / --scaler-env pass extra flags / environment to every scaler
// (e.g. a heap profiler's LD_PRELOAD); --hold-seconds keeps each row's
// scaler and its open streams alive that long after the measurements, with
// its pid printed, for inspection (/proc/<pid>/smaps_rollup, gdb, ...).
//
// Every process it starts is killed when it ends, also on failure (RAII, and
// the children die with it: PR_SET_PDEATHSIG).
#include <grpcpp/grpcpp.h>
#include <nats/nats.h>
#include <signal.h>

#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "externalscaler.grpc.pb.h"
#include "integration/activity_stream.h"
#include "jss/tools/jetstream_admin.h"
#include "jss/tools/keda_client.h"
#include "load_generator.h"
#include "report.h"
#include "support/advisory_counter.h"
#include "support/nats_server_process.h"
#include "support/test_util.h"

namespace jss::bench {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::ActivityBoard;
using testing::ApiLimitAdvisories;
using testing::ChildProcess;
using testing::ConnzCounters;
using testing::HttpGet;
using testing::NatsServerProcess;
using testing::PickFreePort;
using testing::ScrapeValue;
using testing::WaitFor;

// A failed step: the row fails, and every process is still stopped.
struct BenchError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Row {
  int watched = 0;
  bool wakeup = true;
  double first_values_s = 0;
  double idle_requests = 0;  // per consumer per second, counted by nats-server
  double idle_scaler_cpu = 0;  // % of one core
  double idle_nats_cpu = 0;    // % of one core
  double rss_mib = 0;
  std::vector<double> latencies_ms;
  int late = 0;
  int64_t api_drop_advisories = 0;  // LIMIT_REACHED advisories during the row
  int64_t api_dropped = 0;          // requests they say were dropped
};

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

struct Extras {
  std::vector<std::string> args;
  std::vector<std::string> env;
  int hold_seconds = 0;
};

Row RunRow(NatsServerProcess& nats, tools::JetStreamAdmin& admin,
           const ApiLimitAdvisories& drops, int watched, bool wakeup, int samples,
           int idle_seconds, const Extras& extras) {
  Row row;
  const int64_t advisories0 = drops.advisories();
  const int64_t dropped0 = drops.dropped();
  row.watched = watched;
  row.wakeup = wakeup;
  const int grpc_port = PickFreePort();
  const int metrics_port = PickFreePort();
  std::vector<std::string> argv = {JSS_SCALER_BIN, "--nats-url", nats.url(), "--grpc-address",
                                   "127.0.0.1:" + std::to_string(grpc_port), "--metrics-address",
                                   "127.0.0.1:" + std::to_string(metrics_port), "--push-wakeup",
                                   wakeup ? "true" : "false", "--log-level", "warn"};
  argv.insert(argv.end(), extras.args.begin(), extras.args.end());
  ChildProcess scaler(argv, extras.env);
  auto metric = [&](const std::string& series) {
    return ScrapeValue(HttpGet(metrics_port, "/metrics").body, series);
  };
  if (!WaitFor([&] { return HttpGet(metrics_port, "/readyz").status == 200; })) {
    throw BenchError("scaler did not become ready:\n" + scaler.Output());
  }
  // One channel for every stream, like KEDA's one connection per scalerAddress.
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(grpc_port),
                                     grpc::InsecureChannelCredentials());
  auto stub = externalscaler::ExternalScaler::NewStub(channel);
  const size_t n = static_cast<size_t>(watched);
  ActivityBoard board(n);
  const auto opened = Clock::now();
  for (size_t i = 0; i < n; ++i) {
    board.Open(*stub, i, {{"stream", "PUSH"}, {"consumer", "c" + std::to_string(i)}},
               "so-" + std::to_string(i));
  }
  if (!board.Await([&](const ActivityBoard& b) { return b.WithValue() == n; }, seconds(120))) {
    throw BenchError("not every stream got its first value within 120 s");
  }
  row.first_values_s = Seconds(board.LastFirstValue() - opened);
  if (wakeup && !WaitFor([&] {
        return metric("jetstream_scaler_push_wakeup_subscriptions") >= watched;
      }, seconds(60))) {
    throw BenchError("wake-up subscriptions did not reach one per consumer");
  }

  // Idle: nothing is published; what the scaler asks NATS now is its idle cost.
  const auto before = ConnzCounters(nats.monitoring_port(), "jetstream-scaler");
  if (!before.found) throw BenchError("the scaler's connection is not in /connz");
  const double scaler_cpu0 = CpuSeconds(scaler.pid());
  const double nats_cpu0 = CpuSeconds(nats.pid());
  const auto idle_start = Clock::now();
  std::this_thread::sleep_for(seconds(idle_seconds));
  const double idle = Seconds(Clock::now() - idle_start);
  const auto after = ConnzCounters(nats.monitoring_port(), "jetstream-scaler");
  row.idle_requests = (after.in_msgs - before.in_msgs) / static_cast<double>(watched) / idle;
  row.idle_scaler_cpu = 100 * (CpuSeconds(scaler.pid()) - scaler_cpu0) / idle;
  row.idle_nats_cpu = 100 * (CpuSeconds(nats.pid()) - nats_cpu0) / idle;

  // Publishes on idle consumers spread over the set, at random pauses so
  // they do not lock on to any timer.
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> pause_ms(0, 300);
  std::vector<size_t> sampled;
  for (int k = 0; k < samples; ++k) {
    const size_t i = static_cast<size_t>(k) * n / static_cast<size_t>(samples);
    sampled.push_back(i);
    std::this_thread::sleep_for(milliseconds(pause_ms(rng)));
    const auto t0 = Clock::now();
    if (!admin.Publish("push." + std::to_string(i), 1).ok()) throw BenchError("publish failed");
    if (!board.Await([&](const ActivityBoard& b) { return b.Latest(i) == true; }, seconds(5))) {
      ++row.late;
      continue;
    }
    row.latencies_ms.push_back(
        std::chrono::duration<double, std::milli>(board.BecameTrue(i) - t0).count());
  }
  row.rss_mib = RssMiB(scaler.pid());
  if (extras.hold_seconds > 0) {
    std::cerr << "holding scaler pid " << scaler.pid() << " with " << n << " open streams for "
              << extras.hold_seconds << " s\n";
    std::this_thread::sleep_for(seconds(extras.hold_seconds));
  }
  board.CancelAll();
  board.Await([&](const ActivityBoard& b) { return b.Ended() == n; }, seconds(30));
  scaler.Signal(SIGTERM);
  scaler.Wait();
  // Leave the sampled consumers idle for the next row.
  for (size_t i : sampled) (void)admin.Fetch("PUSH", "c" + std::to_string(i), 1, /*ack=*/true);
  row.api_drop_advisories = drops.advisories() - advisories0;
  row.api_dropped = drops.dropped() - dropped0;
  return row;
}

std::vector<int> ParseList(const std::string& text) {
  std::vector<int> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(std::atoi(item.c_str()));
  return out;
}

int Main(int argc, char** argv) {
  std::vector<int> watched = {10000, 1000};
  int wakeup_off = 1000;
  int samples = 200;
  int idle_seconds = 45;
  std::string out;
  Extras extras;
  for (int i = 1; i + 1 < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--watched") watched = ParseList(argv[++i]);
    if (a == "--wakeup-off") wakeup_off = std::atoi(argv[++i]);
    if (a == "--samples") samples = std::atoi(argv[++i]);
    if (a == "--idle-seconds") idle_seconds = std::atoi(argv[++i]);
    if (a == "--out") out = argv[++i];
    if (a == "--scaler-arg") extras.args.push_back(argv[++i]);
    if (a == "--scaler-env") extras.env.push_back(argv[++i]);
    if (a == "--hold-seconds") extras.hold_seconds = std::atoi(argv[++i]);
  }
  const int most = std::max(*std::max_element(watched.begin(), watched.end()), wakeup_off);
  std::string error;
  NatsServerProcess::Options options;
  options.monitoring = true;  // /connz: the server's own count of our requests
  // A system account, to hear the server's API-limit advisories; the scaler and the admin
  // connect without credentials into the JetStream account APP.
  char dir[] = "/tmp/jss-push-bench-XXXXXX";
  if (mkdtemp(dir) == nullptr) return 1;
  const std::string config = std::string(dir) + "/nats.conf";
  // 2.15 (also 2.15.0; not 2.11.17) allows 1,000 consumers per stream unless told otherwise;
  // the bench puts up to 10,000 on one stream. Older servers do not know the key.
  std::ofstream(config) << testing::ConfigWithSystemAccount(
      NatsServerProcess::VersionAtLeast(2, 15, 0)
          ? "jetstream { limits { default_max_consumers: -1 } }\n"
          : "");
  options.extra_args = {"-c", config};
  auto nats = NatsServerProcess::Start(options, &error);
  std::filesystem::remove_all(dir);  // read at start-up
  if (!nats) {
    std::cerr << error << "\n";
    return 1;
  }
  ApiLimitAdvisories drops(testing::SystemAccountUrl(nats->port()));
  if (!drops.ok()) {
    std::cerr << "could not subscribe to the API-limit advisories as the system user\n";
    return 1;
  }
  auto admin = tools::JetStreamAdmin::Connect(nats->url());
  if (!admin.ok()) return 1;
  if (!(*admin)->AddStream({"PUSH", {"push.>"}, /*memory=*/true}).ok()) return 1;
  for (int c = 0; c < most; ++c) {
    const std::string id = std::to_string(c);
    if (!(*admin)->AddConsumer({"PUSH", "c" + id, "push." + id}).ok()) {
      std::cerr << "creating consumer c" << id << " failed\n";
      return 1;
    }
  }

  Line("### 4. Push activation at scale: StreamIsActive streams on one gRPC channel "
       "(default --push-interval 250ms, --push-idle-resync 30s)");
  Line("");
  Line("| watched | wake-up | all first values s | idle NATS req per consumer per s "
       "(nats-server /connz) | publish→true p50 ms | p99 ms | max ms | late (> 5 s) | "
       "scaler CPU idle % | nats-server CPU idle % | scaler RSS MiB | "
       "API requests dropped by nats-server (LIMIT_REACHED advisories) |");
  Line("|---|---|---|---|---|---|---|---|---|---|---|---|");
  struct Spec {
    int watched;
    bool wakeup;
  };
  std::vector<Spec> specs;
  for (int w : watched) specs.push_back({w, true});
  if (wakeup_off > 0) specs.push_back({wakeup_off, false});
  int rc = 0;
  for (const Spec& spec : specs) {
    try {
      const Row r = RunRow(*nats, **admin, drops, spec.watched, spec.wakeup,
                           std::min(samples, spec.watched), idle_seconds, extras);
      auto lat = r.latencies_ms;
      const double max = lat.empty() ? 0 : *std::max_element(lat.begin(), lat.end());
      Line("| " + std::to_string(r.watched) + " | " + (r.wakeup ? "on" : "off") + " | " +
           Fmt("%.1f", r.first_values_s) + " | " + Fmt("%.4f", r.idle_requests) + " | " +
           Fmt("%.1f", Percentile(lat, 0.5)) + " | " + Fmt("%.1f", Percentile(lat, 0.99)) +
           " | " + Fmt("%.1f", max) + " | " + std::to_string(r.late) + " | " +
           Fmt("%.1f", r.idle_scaler_cpu) + " | " + Fmt("%.1f", r.idle_nats_cpu) + " | " +
           Fmt("%.1f", r.rss_mib) + " | " + std::to_string(r.api_dropped) + " (" +
           std::to_string(r.api_drop_advisories) + ") |");
    } catch (const BenchError& e) {
      // The scaler of this row is already stopped (its ChildProcess is gone).
      std::cerr << "row " << spec.watched << (spec.wakeup ? " wake-up on" : " wake-up off")
                << " failed: " << e.what() << "\n";
      Line("| " + std::to_string(spec.watched) + " | " + (spec.wakeup ? "on" : "off") +
           " | failed: " + e.what() + " |");
      rc = 1;
    }
  }
  Line("");
  SaveReport(out);
  return rc;
}

}  // namespace
}  // namespace jss::bench

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  const int rc = jss::bench::Main(argc, argv);
  nats_Close();
  return rc;
}
