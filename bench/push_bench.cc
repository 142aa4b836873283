// push_bench: publish -> StreamIsActive `true` latency, with the NATS wake-up
// on and off, at the default push interval, while 1,000 ScaledObjects (one
// consumer each) are watched. See docs/benchmarks.md.
//
//   push_bench [--watched N] [--samples N] [--out FILE]
//
// Starts its own nats-server and the real jetstream-scaler binary per mode;
// streams are opened with gRPC's callback client, like KEDA's long-lived
// external-push connection.
#include <grpcpp/grpcpp.h>
#include <nats/nats.h>
#include <signal.h>

#include <condition_variable>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "externalscaler.grpc.pb.h"
#include "jss/tools/jetstream_admin.h"
#include "jss/tools/keda_client.h"
#include "load_generator.h"
#include "report.h"
#include "support/nats_server_process.h"
#include "support/test_util.h"

namespace jss::bench {
namespace {

using Clock = std::chrono::steady_clock;
using testing::ChildProcess;
using testing::HttpGet;
using testing::NatsServerProcess;
using testing::PickFreePort;
using testing::ScrapeValue;
using testing::WaitFor;

// Every pushed value of every stream lands here, time-stamped on arrival.
struct Board {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::optional<bool>> latest;
  std::vector<Clock::time_point> became_true;
  int ended = 0;
};

class Watch final : public grpc::ClientReadReactor<externalscaler::IsActiveResponse> {
 public:
  Watch(externalscaler::ExternalScaler::Stub& stub, Board& board, int index,
        const std::string& consumer)
      : board_(board), index_(index) {
    request_ = tools::MakeRef({{"stream", "PUSH"}, {"consumer", consumer}},
                              "so-" + std::to_string(index), "bench");
    stub.async()->StreamIsActive(&ctx_, &request_, this);
    StartRead(&response_);
    StartCall();
  }
  void Cancel() { ctx_.TryCancel(); }
  void OnReadDone(bool ok) override {
    if (!ok) return;
    {
      std::lock_guard<std::mutex> lock(board_.mu);
      const bool value = response_.result();
      if (value && board_.latest[index_] != true) board_.became_true[index_] = Clock::now();
      board_.latest[index_] = value;
    }
    board_.cv.notify_all();
    StartRead(&response_);
  }
  void OnDone(const grpc::Status&) override {
    std::lock_guard<std::mutex> lock(board_.mu);
    ++board_.ended;
    board_.cv.notify_all();
  }

 private:
  Board& board_;
  int index_;
  grpc::ClientContext ctx_;
  externalscaler::ScaledObjectRef request_;
  externalscaler::IsActiveResponse response_;
};

struct ModeResult {
  std::vector<double> latencies_ms;
  int timeouts = 0;
  double rss_mib = 0;
  double nats_requests_per_s = 0;
  double wakeup_subscriptions = 0;
};

// One scaler, `watched` open streams (stream i watches consumer c<i>), then
// `samples` publishes, each to a consumer of [first, first + samples) that is
// idle, timed until its stream says true.
ModeResult RunMode(const std::string& nats_url, tools::JetStreamAdmin& admin, bool wakeup,
                   int watched, int first, int samples) {
  ModeResult result;
  const int grpc_port = PickFreePort();
  const int metrics_port = PickFreePort();
  ChildProcess scaler({JSS_SCALER_BIN, "--nats-url", nats_url, "--grpc-address",
                       "127.0.0.1:" + std::to_string(grpc_port), "--metrics-address",
                       "127.0.0.1:" + std::to_string(metrics_port), "--push-wakeup",
                       wakeup ? "true" : "false", "--log-level", "warn"});
  auto metric = [&](const std::string& series) {
    return ScrapeValue(HttpGet(metrics_port, "/metrics").body, series);
  };
  if (!WaitFor([&] { return HttpGet(metrics_port, "/readyz").status == 200; })) {
    std::cerr << "scaler did not become ready:\n" << scaler.Output();
    std::exit(1);
  }
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(grpc_port),
                                     grpc::InsecureChannelCredentials());
  auto stub = externalscaler::ExternalScaler::NewStub(channel);
  Board board;
  board.latest.resize(static_cast<size_t>(watched));
  board.became_true.resize(static_cast<size_t>(watched));
  std::vector<std::unique_ptr<Watch>> watches;
  for (int i = 0; i < watched; ++i) {
    watches.push_back(std::make_unique<Watch>(*stub, board, i, "c" + std::to_string(i)));
  }
  {
    std::unique_lock<std::mutex> lock(board.mu);
    const bool all = board.cv.wait_for(lock, std::chrono::seconds(60), [&] {
      for (const auto& v : board.latest) {
        if (!v.has_value()) return false;
      }
      return true;
    });
    if (!all) {
      std::cerr << "not every stream got its first value\n";
      std::exit(1);
    }
  }
  if (wakeup) {
    // Idle consumers hold one wake-up subscription each (filter subject).
    WaitFor([&] {
      return metric("jetstream_scaler_push_wakeup_subscriptions") >=
             static_cast<double>(watched - first);
    }, std::chrono::seconds(30));
    result.wakeup_subscriptions = metric("jetstream_scaler_push_wakeup_subscriptions");
  }
  const double requests_before = metric("jetstream_scaler_nats_requests_total{connection=\"default\"}");
  const auto steady_start = Clock::now();

  std::mt19937 rng(42);
  // Publishes arrive independently of the watchers' poll timers in real life;
  // a random pause longer than the interval keeps them from locking on.
  std::uniform_int_distribution<int> pause_ms(0, 300);
  for (int k = 0; k < samples; ++k) {
    const int i = first + k;
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(rng)));
    const auto t0 = Clock::now();
    if (!admin.Publish("push." + std::to_string(i), 1).ok()) std::exit(1);
    std::unique_lock<std::mutex> lock(board.mu);
    const bool arrived = board.cv.wait_for(lock, std::chrono::seconds(5), [&] {
      return board.latest[static_cast<size_t>(i)] == true;
    });
    if (!arrived) {
      ++result.timeouts;
      continue;
    }
    result.latencies_ms.push_back(
        std::chrono::duration<double, std::milli>(board.became_true[static_cast<size_t>(i)] - t0)
            .count());
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - steady_start).count();
  result.nats_requests_per_s =
      (metric("jetstream_scaler_nats_requests_total{connection=\"default\"}") - requests_before) /
      seconds;
  result.rss_mib = RssMiB(scaler.pid());
  for (auto& w : watches) w->Cancel();
  {
    std::unique_lock<std::mutex> lock(board.mu);
    board.cv.wait_for(lock, std::chrono::seconds(10), [&] { return board.ended == watched; });
  }
  scaler.Signal(SIGTERM);
  scaler.Wait();
  return result;
}

int Main(int argc, char** argv) {
  int watched = 1000;
  int samples = 200;
  std::string out;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--watched" && i + 1 < argc) watched = std::atoi(argv[++i]);
    if (a == "--samples" && i + 1 < argc) samples = std::atoi(argv[++i]);
    if (a == "--out" && i + 1 < argc) out = argv[++i];
  }
  if (samples * 2 > watched) {
    std::cerr << "--samples must be at most half of --watched (each sample uses an idle consumer)\n";
    return 2;
  }
  std::string error;
  auto nats = NatsServerProcess::Start({}, &error);
  if (!nats) {
    std::cerr << error << "\n";
    return 1;
  }
  auto admin = tools::JetStreamAdmin::Connect(nats->url());
  if (!admin.ok()) return 1;
  if (!(*admin)->AddStream({"PUSH", {"push.>"}, /*memory=*/true}).ok()) return 1;
  for (int c = 0; c < watched; ++c) {
    const std::string id = std::to_string(c);
    if (!(*admin)->AddConsumer({"PUSH", "c" + id, "push." + id}).ok()) return 1;
  }

  Line("### 4. Push activation: publish → StreamIsActive `true` (" + std::to_string(watched) +
       " watched ScaledObjects, default --push-interval 250ms)");
  Line("");
  Line("| mode | samples | p50 ms | p90 ms | p99 ms | max ms | late (> 5 s) | scaler NATS "
       "req/s | wake-up subscriptions | scaler RSS MiB |");
  Line("|---|---|---|---|---|---|---|---|---|---|");
  struct Mode {
    const char* name;
    bool wakeup;
    int first;
  };
  for (const Mode& mode : {Mode{"wake-up on (default)", true, 0},
                           Mode{"polling only (--push-wakeup=false)", false, samples}}) {
    ModeResult r = RunMode(nats->url(), **admin, mode.wakeup, watched, mode.first, samples);
    auto lat = r.latencies_ms;
    const double max = lat.empty() ? 0 : *std::max_element(lat.begin(), lat.end());
    Line(std::string("| ") + mode.name + " | " + std::to_string(lat.size()) + " | " +
         Fmt("%.1f", Percentile(lat, 0.5)) + " | " + Fmt("%.1f", Percentile(lat, 0.9)) + " | " +
         Fmt("%.1f", Percentile(lat, 0.99)) + " | " + Fmt("%.1f", max) + " | " +
         std::to_string(r.timeouts) + " | " + Fmt("%.0f", r.nats_requests_per_s) + " | " +
         (mode.wakeup ? Fmt("%.0f", r.wakeup_subscriptions) : std::string("0")) + " | " +
         Fmt("%.1f", r.rss_mib) + " |");
  }
  Line("");
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
