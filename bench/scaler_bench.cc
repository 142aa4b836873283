// scaler_bench: measures the scaler side by side with the physical limits of
// this machine, in one run. See docs/benchmarks.md.
//
//   scaler_bench [--seconds N] [--out FILE]
//   scaler_bench --callgrind DIR [--seconds N]
//
// --callgrind: instructions per call instead of calls per second. The scaler
// and the no-op server run under valgrind's callgrind (collection switched on
// only while the 10,000 ScaledObjects / 64 in flight load runs), and the
// counts go to DIR/{scaler,noop}.callgrind.1: `callgrind_annotate FILE` shows
// where the instructions went. Counts do not depend on how loaded the machine
// is, so two trees can be compared call for call.
//
// Starts its own nats-server processes, the real jetstream-scaler binary
// (cached and uncached), and a no-op ExternalScaler, all on loopback.
#include <nats/nats.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <tuple>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "jss/tools/jetstream_admin.h"
#include "load_generator.h"
#include "report.h"
#include "noop_server.h"
#include "support/nats_server_process.h"
#include "support/test_util.h"

namespace jss::bench {
namespace {

using testing::ChildProcess;
using testing::HttpGet;
using testing::NatsServerProcess;
using testing::PickFreePort;
using testing::ScrapeValue;
using testing::WaitFor;

struct Scaler {
  std::unique_ptr<ChildProcess> process;
  int grpc_port = 0;
  int metrics_port = 0;
  std::string address() const { return "127.0.0.1:" + std::to_string(grpc_port); }
  double NatsRequests() const {
    return ScrapeValue(HttpGet(metrics_port, "/metrics").body,
                       "jetstream_scaler_nats_requests_total{connection=\"default\"}");
  }
};

// argv run under callgrind with collection off until switched on (CallgrindControl).
std::vector<std::string> UnderCallgrind(const std::string& out_file,
                                        std::vector<std::string> argv) {
  std::vector<std::string> v{"/usr/bin/valgrind", "--tool=callgrind", "--instr-atstart=no",
                             "--callgrind-out-file=" + out_file};
  v.insert(v.end(), argv.begin(), argv.end());
  return v;
}

bool CallgrindControl(int pid, const std::string& what) {
  const std::string cmd =
      "callgrind_control " + what + " " + std::to_string(pid) + " >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

Scaler StartScaler(const std::string& nats_url, const std::string& ttl,
                   const std::string& callgrind_out = "") {
  Scaler s;
  s.grpc_port = PickFreePort();
  s.metrics_port = PickFreePort();
  std::vector<std::string> argv{
      JSS_SCALER_BIN, "--nats-url", nats_url, "--grpc-address",
      "127.0.0.1:" + std::to_string(s.grpc_port), "--metrics-address",
      "127.0.0.1:" + std::to_string(s.metrics_port), "--lag-cache-ttl", ttl, "--log-level",
      "warn", "--max-inflight-requests", "100000"};
  if (!callgrind_out.empty()) argv = UnderCallgrind(callgrind_out, argv);
  s.process = std::make_unique<ChildProcess>(argv);
  if (!WaitFor([&] { return HttpGet(s.metrics_port, "/readyz").status == 200; },
               std::chrono::seconds(callgrind_out.empty() ? 10 : 120))) {
    std::cerr << "scaler did not become ready:\n" << s.process->Output();
    std::exit(1);
  }
  return s;
}

std::vector<double> RawConsumerInfo(tools::JetStreamAdmin& admin, const std::string& stream,
                                    const std::string& consumer, int n) {
  std::vector<double> us;
  for (int i = 0; i < n; ++i) {
    const auto t = std::chrono::steady_clock::now();
    auto lag = admin.ConsumerInfo(stream, consumer);
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t)
                     .count());
    if (!lag.ok()) {
      std::cerr << lag.status().ToString() << "\n";
      std::exit(1);
    }
  }
  return us;
}

// One row (10,000 ScaledObjects on 1,000 consumers, 64 in flight) against
// the scaler and the no-op server, each under callgrind; prints calls made
// while collecting, so that instructions per call = Ir / calls.
int RunCallgrind(const std::string& nats_url, const std::string& self, const std::string& dir,
                 std::chrono::milliseconds duration) {
  const std::string scaler_out = dir + "/scaler.callgrind";
  const std::string noop_out = dir + "/noop.callgrind";
  // A long cache TTL: under callgrind the scaler answers ~50 calls/s, so with
  // 1 s a call would nearly always pay a NATS read, which at full speed is
  // shared by ~15 calls; this measures the cached call, the common one.
  Scaler scaler = StartScaler(nats_url, "300s", scaler_out);
  const int noop_port = PickFreePort();
  ChildProcess noop(UnderCallgrind(noop_out, {self, "--noop-server",
                                              "127.0.0.1:" + std::to_string(noop_port)}));
  if (!WaitFor([&] { return noop.Output().find("port=") != std::string::npos; },
               std::chrono::seconds(120))) {
    std::cerr << "no-op server did not start:\n" << noop.Output();
    return 1;
  }
  std::cout << "| server | calls while collecting | errors | file |\n|---|---|---|---|\n";
  for (auto [name, address, pid, file] :
       {std::tuple{std::string("scaler"), scaler.address(), scaler.process->pid(), scaler_out},
        std::tuple{std::string("no-op"), "127.0.0.1:" + std::to_string(noop_port), noop.pid(),
                   noop_out}}) {
    LoadSpec spec{address, 10000, 1000, "BENCH", 64, duration, true};
    RunLoad(spec);  // warm-up: every ScaledObject seen, caches filled, connections up
    if (!CallgrindControl(pid, "--zero") || !CallgrindControl(pid, "--instr=on")) {
      std::cerr << "callgrind_control failed for " << name << "\n";
      return 1;
    }
    LoadResult r = RunLoad(spec);
    CallgrindControl(pid, "--instr=off");
    CallgrindControl(pid, "--dump");  // to FILE.1: a kill at exit cannot lose it
    std::cout << "| " << name << " | " << r.calls << " | " << r.errors << " | " << file
              << ".1 |\n";
  }
  return 0;
}

int Main(int argc, char** argv) {
  int seconds = 3;
  std::string out;
  std::string callgrind_dir;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--noop-server" && i + 1 < argc) return RunNoopServer(argv[i + 1]);
    if (a == "--seconds" && i + 1 < argc) seconds = std::atoi(argv[++i]);
    if (a == "--out" && i + 1 < argc) out = argv[++i];
    if (a == "--callgrind" && i + 1 < argc) callgrind_dir = argv[++i];
  }
  const std::chrono::milliseconds duration(seconds * 1000);

  std::string error;
  auto nats = NatsServerProcess::Start({}, &error);
  if (!nats) {
    std::cerr << error << "\n";
    return 1;
  }
  auto admin = tools::JetStreamAdmin::Connect(nats->url());
  if (!admin.ok()) return 1;
  constexpr int kMaxConsumers = 1000;
  if (!(*admin)->AddStream({"BENCH", {"bench.>"}, /*memory=*/true}).ok()) return 1;
  for (int c = 0; c < kMaxConsumers; ++c) {
    if (!(*admin)->AddConsumer({"BENCH", "c" + std::to_string(c), ""}).ok()) return 1;
  }
  if (!(*admin)->Publish("bench.x", 100).ok()) return 1;

  char self[4096] = {};
  if (readlink("/proc/self/exe", self, sizeof(self) - 1) < 0) return 1;
  if (!callgrind_dir.empty()) return RunCallgrind(nats->url(), self, callgrind_dir, duration);

  Scaler cached = StartScaler(nats->url(), "1s");
  Scaler uncached = StartScaler(nats->url(), "0");
  const int noop_port = PickFreePort();
  ChildProcess noop({self, "--noop-server", "127.0.0.1:" + std::to_string(noop_port)});
  WaitFor([&] { return noop.Output().find("port=") != std::string::npos; });
  const std::string noop_address = "127.0.0.1:" + std::to_string(noop_port);

  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  Line("Machine: " + std::to_string(sysconf(_SC_NPROCESSORS_ONLN)) +
       " cores; load generator, scaler, no-op server and nats-server share them. " +
       std::to_string(seconds) + " s per row.");
  Line("");

  // 1. KEDA-like load, cached scaler vs no-op gRPC handler.
  Line("### 1. KEDA-like polling (GetMetrics + IsActive), --lag-cache-ttl 1s");
  Line("");
  Line("| ScaledObjects | consumers | concurrent calls | scaler calls/s | no-op calls/s | "
       "scaler/no-op | p50 µs | p99 µs | no-op p99 µs | errors | NATS req per consumer per "
       "window | scaler RSS MiB |");
  Line("|---|---|---|---|---|---|---|---|---|---|---|---|");
  for (auto [objects, consumers] : {std::pair{1000, 100}, std::pair{10000, 1000}}) {
    for (int concurrency : {1, 16, 64, 256}) {
      LoadSpec spec{cached.address(), objects, consumers, "BENCH", concurrency, duration, true};
      const double before = cached.NatsRequests();
      LoadResult r = RunLoad(spec);
      const double requests = cached.NatsRequests() - before;
      const double windows = r.seconds / 1.0;
      spec.address = noop_address;
      LoadResult n = RunLoad(spec);
      Line("| " + std::to_string(objects) + " | " + std::to_string(consumers) + " | " +
           std::to_string(concurrency) + " | " + Fmt("%.0f", r.CallsPerSecond()) + " | " +
           Fmt("%.0f", n.CallsPerSecond()) + " | " +
           Fmt("%.2f", r.CallsPerSecond() / n.CallsPerSecond()) + " | " +
           Fmt("%.0f", r.p50_us) + " | " + Fmt("%.0f", r.p99_us) + " | " +
           Fmt("%.0f", n.p99_us) + " | " + std::to_string(r.errors) + " | " +
           Fmt("%.2f", requests / (consumers * windows)) + " | " +
           Fmt("%.1f", RssMiB(cached.process->pid())) + " |");
    }
  }
  Line("");

  // Coalescing: 100 concurrent callers of one consumer.
  {
    LoadSpec spec{cached.address(), 100, 1, "BENCH", 100, duration, false};
    const double before = cached.NatsRequests();
    LoadResult r = RunLoad(spec);
    const double requests = cached.NatsRequests() - before;
    Line("### Coalescing: 100 concurrent callers of one consumer for " +
         Fmt("%.1f", r.seconds) + " s (1 s window)");
    Line("");
    Line("| calls | NATS requests | NATS requests per window | calls per NATS request |");
    Line("|---|---|---|---|");
    Line("| " + std::to_string(r.calls) + " | " + Fmt("%.0f", requests) + " | " +
         Fmt("%.2f", requests / r.seconds) + " | " +
         Fmt("%.0f", static_cast<double>(r.calls) / requests) + " |");
    Line("");
  }

  // 2. Uncached read vs the raw cnats round trip and the gRPC floor.
  {
    auto raw = RawConsumerInfo(**admin, "BENCH", "c0", 2000);
    const double raw_p50 = Percentile(raw, 0.5);
    LoadSpec spec{uncached.address(), 1, 1, "BENCH", 1, duration, false};
    LoadResult u = RunLoad(spec);
    spec.address = noop_address;
    LoadResult n = RunLoad(spec);
    Line("### 2. One caller, no cache: scaler GetMetrics vs raw js_GetConsumerInfo vs no-op gRPC");
    Line("");
    Line("| raw js_GetConsumerInfo p50 µs | no-op gRPC p50 µs | uncached GetMetrics p50 µs | "
         "uncached/raw | (uncached − no-op)/raw |");
    Line("|---|---|---|---|---|");
    Line("| " + Fmt("%.0f", raw_p50) + " | " + Fmt("%.0f", n.p50_us) + " | " +
         Fmt("%.0f", u.p50_us) + " | " + Fmt("%.2f", u.p50_us / raw_p50) + " | " +
         Fmt("%.2f", (u.p50_us - n.p50_us) / raw_p50) + " |");
    Line("");
  }

  cached.process->Signal(SIGTERM);
  uncached.process->Signal(SIGTERM);
  noop.Signal(SIGTERM);

  // 3. JetStream API read vs the monitoring endpoint, as the account grows.
  {
    NatsServerProcess::Options opts;
    opts.monitoring = true;
    auto mon = NatsServerProcess::Start(opts, &error);
    if (!mon) {
      std::cerr << error << "\n";
      return 1;
    }
    auto a = tools::JetStreamAdmin::Connect(mon->url());
    if (!a.ok() || !(*a)->AddStream({"JSZ", {"jsz.>"}, true}).ok()) return 1;
    if (!(*a)->Publish("jsz.x", 10).ok()) return 1;
    Line("### 3. Reading one consumer's lag: JetStream API vs /jsz monitoring endpoint");
    Line("");
    Line("| consumers in account | JetStream API p50 µs | API bytes | /jsz p50 µs | /jsz bytes | "
         "API vs 1 consumer | /jsz vs 1 consumer |");
    Line("|---|---|---|---|---|---|---|");
    int have = 0;
    double api_base = 0;
    double jsz_base = 0;
    for (int n : {1, 100, 1000}) {
      for (; have < n; ++have) {
        if (!(*a)->AddConsumer({"JSZ", "c" + std::to_string(have), ""}).ok()) return 1;
      }
      auto api = RawConsumerInfo(**a, "JSZ", "c0", 500);
      const double api_p50 = Percentile(api, 0.5);
      std::vector<double> jsz_us;
      size_t jsz_bytes = 0;
      for (int i = 0; i < 30; ++i) {
        const auto t = std::chrono::steady_clock::now();
        auto resp = HttpGet(mon->monitoring_port(), "/jsz?acc=%24G&consumers=true");
        jsz_us.push_back(std::chrono::duration<double, std::micro>(
                             std::chrono::steady_clock::now() - t)
                             .count());
        jsz_bytes = resp.body.size();
      }
      const double jsz_p50 = Percentile(jsz_us, 0.5);
      if (n == 1) {
        api_base = api_p50;
        jsz_base = jsz_p50;
      }
      // The API reply for one consumer is the consumer-info JSON (~1 KB),
      // the same whatever the account holds.
      Line("| " + std::to_string(n) + " | " + Fmt("%.0f", api_p50) + " | ~1 KB | " +
           Fmt("%.0f", jsz_p50) + " | " + std::to_string(jsz_bytes) + " | " +
           Fmt("%.2f", api_p50 / api_base) + " | " + Fmt("%.2f", jsz_p50 / jsz_base) + " |");
    }
    Line("");
  }

  SaveReport(out);
  return 0;
}

}  // namespace
}  // namespace jss::bench

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  const int rc = jss::bench::Main(argc, argv);
  nats_Close();
  return rc;
}
