// Cost of age reads (issue 23) beside lag reads, side by side in one run: one
// real nats-server, 1,000 consumers on one stream (one filter subject each),
// every consumer read at once, rounds alternating between
//   lag: CONSUMER.INFO (JetStreamLagSource::ReadLag), and
//   lag + age: CONSUMER.INFO, then the oldest message's timestamp
//              (OldestMessageAgeReader::ReadConsumerAndAge).
// Scenarios: every consumer has a backlog on a stream with allow_direct
// (direct get), the same without allow_direct (STREAM.MSG.GET), and every
// consumer drained (no age request at all). Reports requests per read (the
// connection's own count), wall µs per read, and nats-server CPU µs per read.
// Not part of CI; see docs/benchmarks.md.
//   age_bench [--consumers N] [--rounds N] [--out FILE]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "jss/core/lag/observer.h"
#include "jss/core/base/scheduler.h"
#include "jss/logging/logger.h"
#include "jss/nats/jetstream/jetstream_api.h"
#include "jss/nats/jetstream/jetstream_lag_source.h"
#include "jss/nats/connection/nats_connection.h"
#include "jss/nats/jetstream/oldest_message_age.h"
#include "jss/tools/jetstream_admin.h"
#include "report.h"
#include "support/nats_server_process.h"

namespace {

using jss::bench::Fmt;
using jss::bench::Line;
using Clock = std::chrono::steady_clock;

// Counts the requests the scaler's connection sends.
class CountingObserver final : public jss::core::NatsObserver {
 public:
  void OnConnectionState(std::string_view, bool) override {}
  void OnReconnect(std::string_view) override {}
  void OnRequestSent(std::string_view) override { sent.fetch_add(1); }
  void OnRequestDone(std::string_view, std::string_view reason, double) override {
    if (reason != "ok") failed.fetch_add(1);
  }
  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> failed{0};
};

// Waits for `n` callbacks, bounded.
class Latch {
 public:
  explicit Latch(int n) : n_(n) {}
  void Done() {
    std::lock_guard<std::mutex> lock(mu_);
    if (--n_ == 0) cv_.notify_all();
  }
  bool Wait(std::chrono::seconds limit) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, limit, [&] { return n_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int n_;
};

struct Sample {
  double requests_per_read = 0;
  double wall_us_per_read = 0;
  double server_cpu_us_per_read = 0;
  int errors = 0;
};

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// CPU time is read in clock ticks (10 ms = 10 µs per read at 1,000 reads):
// the mean over all rounds, not a median of quantised rounds.
double Mean(const std::vector<double>& v) {
  double sum = 0;
  for (double x : v) sum += x;
  return v.empty() ? 0 : sum / static_cast<double>(v.size());
}

}  // namespace

int main(int argc, char** argv) {
  int consumers = 1000;
  int rounds = 7;
  std::string out;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--consumers") == 0) consumers = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--rounds") == 0) rounds = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--out") == 0) out = argv[i + 1];
  }
  if (consumers < 1 || consumers > 100000 || rounds < 1 || rounds > 100) {
    std::fprintf(stderr, "--consumers 1..100000, --rounds 1..100\n");
    return 2;
  }
  std::string error;
  auto nats = jss::testing::NatsServerProcess::Start({}, &error);
  if (!nats) {
    std::fprintf(stderr, "nats-server: %s\n", error.c_str());
    return 1;
  }
  auto admin_or = jss::tools::JetStreamAdmin::Connect(nats->url());
  if (!admin_or.ok()) {
    std::fprintf(stderr, "admin: %s\n", admin_or.status().ToString().c_str());
    return 1;
  }
  auto admin = std::move(*admin_or);
  auto api = [&](const std::string& subject, const std::string& body) {
    auto r = admin->Request(subject, body);
    if (!r.ok() || r->find("\"error\"") != std::string::npos) {
      std::fprintf(stderr, "%s: %s\n", subject.c_str(),
                   r.ok() ? r->c_str() : r.status().ToString().c_str());
      std::exit(1);
    }
  };
  // DIRECT: backlog, allow_direct; PLAIN: backlog, no allow_direct; IDLE: drained.
  const std::vector<std::pair<std::string, bool>> streams = {
      {"DIRECT", true}, {"PLAIN", false}, {"IDLE", true}};
  for (const auto& [name, direct] : streams) {
    api("$JS.API.STREAM.CREATE." + name,
        R"({"name":")" + name + R"(","subjects":[")" + name + R"(.>"],"storage":"memory",)" +
            R"("allow_direct":)" + (direct ? "true" : "false") + "}");
    for (int c = 0; c < consumers; ++c) {
      const std::string cname = "c" + std::to_string(c);
      api("$JS.API.CONSUMER.CREATE." + name + "." + cname,
          R"({"stream_name":")" + name + R"(","config":{"durable_name":")" + cname +
              R"(","ack_policy":"explicit","filter_subject":")" + name + "." + cname + R"("}})");
      if (name != "IDLE") api(name + "." + cname, "work");  // one pending message each
    }
  }

  CountingObserver observer;
  jss::core::ThreadScheduler scheduler;
  jss::nats::NatsConnectionOptions options;
  options.servers = {nats->url()};
  auto conn_or = jss::nats::NatsConnection::Open(std::move(options), observer,
                                                 jss::logging::Logger::Null(), scheduler);
  if (!conn_or.ok()) return 1;
  auto conn = std::move(*conn_or);
  for (int i = 0; i < 500 && !conn->IsConnected(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // setup, not measured
  }
  jss::nats::JetStreamConnections connections;
  connections.Add("default", conn.get());
  jss::nats::JetStreamLagSource lag_source(connections);
  jss::nats::OldestMessageAgeReader age_reader(connections);

  // One round: every consumer of `stream` read once, all at once.
  auto round = [&](const std::string& stream, bool with_age) {
    Sample s;
    std::atomic<int> errors{0};
    Latch latch(consumers);
    const uint64_t sent_before = observer.sent.load();
    const double cpu_before = jss::bench::CpuSeconds(nats->pid());
    const auto start = Clock::now();
    const auto deadline = start + std::chrono::seconds(30);
    for (int c = 0; c < consumers; ++c) {
      jss::core::ConsumerKey key{"default", stream, "c" + std::to_string(c)};
      if (with_age) {
        age_reader.ReadConsumerAndAge(
            key, deadline, [&](const jss::core::StatusOr<jss::nats::ConsumerAge>& r) {
              if (!r.ok() || (stream != "IDLE" && r->age.oldest_seq == 0)) errors.fetch_add(1);
              latch.Done();
            });
      } else {
        lag_source.ReadLag(key, deadline, [&](const jss::core::LagResult& r) {
          if (!r.ok()) errors.fetch_add(1);
          latch.Done();
        });
      }
    }
    if (!latch.Wait(std::chrono::seconds(60))) {
      std::fprintf(stderr, "round did not finish\n");
      std::exit(1);
    }
    const double wall_us =
        std::chrono::duration<double, std::micro>(Clock::now() - start).count();
    const double cpu_after = jss::bench::CpuSeconds(nats->pid());
    s.requests_per_read = static_cast<double>(observer.sent.load() - sent_before) / consumers;
    s.wall_us_per_read = wall_us / consumers;
    s.server_cpu_us_per_read = (cpu_after - cpu_before) * 1e6 / consumers;
    s.errors = errors.load();
    return s;
  };

  Line("## Age reads beside lag reads (" + std::to_string(consumers) + " consumers, " +
       jss::testing::NatsServerProcess::Version() + ")");
  Line("");
  Line("Each round reads every consumer once, all at once; median of " +
       std::to_string(rounds) + " rounds per row (server CPU: mean), lag and lag + age rounds "
       "alternating (after one warm-up round of each, which also reads each stream's "
       "allow_direct once).");
  Line("");
  Line("| consumers' state | read | requests / read | wall µs / read | nats-server CPU µs / read "
       "| errors |");
  Line("|---|---|---:|---:|---:|---:|");
  const std::vector<std::pair<std::string, std::string>> scenarios = {
      {"DIRECT", "1 pending, allow_direct (direct get)"},
      {"PLAIN", "1 pending, no allow_direct (STREAM.MSG.GET)"},
      {"IDLE", "drained (no age request)"}};
  for (const auto& [stream, label] : scenarios) {
    round(stream, false);  // warm-up
    round(stream, true);
    std::vector<double> req[2], wall[2], cpu[2];
    int errors[2] = {0, 0};
    for (int r = 0; r < rounds; ++r) {
      for (int with_age = 0; with_age < 2; ++with_age) {
        const Sample s = round(stream, with_age == 1);
        req[with_age].push_back(s.requests_per_read);
        wall[with_age].push_back(s.wall_us_per_read);
        cpu[with_age].push_back(s.server_cpu_us_per_read);
        errors[with_age] += s.errors;
      }
    }
    for (int with_age = 0; with_age < 2; ++with_age) {
      Line("| " + label + " | " + (with_age ? "lag + age" : "lag") + " | " +
           Fmt("%.2f", Median(req[with_age])) + " | " + Fmt("%.1f", Median(wall[with_age])) +
           " | " + Fmt("%.1f", Mean(cpu[with_age])) + " | " +
           std::to_string(errors[with_age]) + " |");
    }
  }
  Line("");
  jss::bench::SaveReport(out);
  conn->Shutdown();
  return 0;
}
