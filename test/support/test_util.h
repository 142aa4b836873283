#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace jss::testing {

// Polls `condition` every few milliseconds until it holds or `timeout` passes.
// For awaiting state that has no event to wait on (a process's ports file, a
// reconnect); never a fixed sleep.
bool WaitFor(const std::function<bool()>& condition,
             std::chrono::milliseconds timeout = std::chrono::seconds(10));

struct HttpResponse {
  int status = 0;
  std::string body;
};

// Resident memory of this process (scaler and clients are in-process), KiB; -1 if unknown.
int64_t VmRssKib();

// A TCP connection to 127.0.0.1:port with a 5 s receive timeout, or -1.
int ConnectLoopback(int port);

// Plain HTTP/1.1 GET on loopback; status 0 when the connection failed.
HttpResponse HttpGet(int port, const std::string& path);

// Value of the first sample whose line starts with `series` (name + labels as
// exposed), or -1 when absent.
double ScrapeValue(const std::string& exposition, const std::string& series);

// Counters nats-server keeps for one client connection (its /connz
// monitoring endpoint): messages it received from the client (in_msgs: the
// client's publishes, e.g. JetStream API requests) and sent to it (out_msgs:
// replies and subscription deliveries).
struct ConnCounters {
  bool found = false;
  double in_msgs = 0;
  double out_msgs = 0;
};
// The connection named `name` (the client's CONNECT name); found=false if
// absent or the endpoint did not answer.
ConnCounters ConnzCounters(int monitoring_port, const std::string& name);

// Subscriptions nats-server counts for the connection named `name` (/connz
// `subscriptions`); -1 if absent or the endpoint did not answer.
int ConnzSubscriptions(int monitoring_port, const std::string& name);

// The version nats-server reports on /varz ("2.11.17"); empty if it did not answer.
std::string VarzVersion(int monitoring_port);

// True when `version` ("2.11.17") is at least major.minor.
bool VersionAtLeast(const std::string& version, int major, int minor);

// A port that was free a moment ago (bind to 0, read, close).
int PickFreePort();

// Accepts TCP connections and never sends a byte: a NATS server that hangs.
class SilentTcpServer {
 public:
  SilentTcpServer();
  ~SilentTcpServer();
  int port() const { return port_; }

 private:
  int listen_fd_ = -1;
  int port_ = 0;
};

// A NATS peer that misbehaves on purpose: it completes the handshake on every
// connection (INFO, then PONG to the client's first PING) and then never
// reads again. With a tiny receive window, the client's writes soon block.
class StallingNatsPeer {
 public:
  StallingNatsPeer();
  ~StallingNatsPeer();
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  int handshakes() const { return handshakes_.load(); }

 private:
  void Serve();
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> handshakes_{0};
  std::vector<int> fds_;
  std::thread thread_;
};

}  // namespace jss::testing

namespace jss::testing {

// A child process with its stdout+stderr captured to a file.
class ChildProcess {
 public:
  // argv[0] is the program path; `env` entries are NAME=VALUE added to ours.
  ChildProcess(const std::vector<std::string>& argv, const std::vector<std::string>& env = {});
  ~ChildProcess();
  // Waits for exit (bounded); returns the exit code, or -1 on timeout/signal.
  int Wait(std::chrono::milliseconds timeout = std::chrono::seconds(15));
  void Signal(int sig);
  std::string Output() const;
  bool Running();
  int pid() const { return pid_; }

 private:
  int pid_ = -1;
  int exit_code_ = -1;
  std::string output_path_;
};

}  // namespace jss::testing
