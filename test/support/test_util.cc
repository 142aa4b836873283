#include "support/test_util.h"

#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace jss::testing {

bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

int64_t VmRssKib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

int ConnectLoopback(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

HttpResponse HttpGet(int port, const std::string& path) {
  HttpResponse out;
  int fd = ConnectLoopback(port);
  if (fd < 0) return out;
  const std::string req =
      "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (send(fd, req.data(), req.size(), 0) != static_cast<ssize_t>(req.size())) {
    close(fd);
    return out;
  }
  std::string raw;
  char buf[8192];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) raw.append(buf, static_cast<size_t>(n));
  close(fd);
  if (raw.rfind("HTTP/1.", 0) != 0 || raw.size() < 12) return out;
  out.status = std::stoi(raw.substr(9, 3));
  const size_t body = raw.find("\r\n\r\n");
  if (body != std::string::npos) out.body = raw.substr(body + 4);
  return out;
}

double ScrapeValue(const std::string& exposition, const std::string& series) {
  std::istringstream in(exposition);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

int PickFreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

namespace {

// Binds `fd` to a free loopback port, listens, and returns the port.
int ListenOnLoopback(int fd, int backlog) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  listen(fd, backlog);
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

}  // namespace

SilentTcpServer::SilentTcpServer() {
  listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
  // The kernel completes handshakes into the backlog; we never accept or
  // write, so a client sees a connected socket that stays silent.
  port_ = ListenOnLoopback(listen_fd_, 64);
}

SilentTcpServer::~SilentTcpServer() {
  if (listen_fd_ >= 0) close(listen_fd_);
}

StallingNatsPeer::StallingNatsPeer() {
  listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
  // Set before listen() so accepted sockets inherit a tiny receive window.
  int small = 4096;
  setsockopt(listen_fd_, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  // A small segment size keeps the client's send buffer (sized from it on
  // loopback) small too, so a few hundred KiB of requests fill the path.
  int mss = 536;
  setsockopt(listen_fd_, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof(mss));
  port_ = ListenOnLoopback(listen_fd_, 16);
  thread_ = std::thread([this] { Serve(); });
}

StallingNatsPeer::~StallingNatsPeer() {
  stop_ = true;
  thread_.join();
  for (int fd : fds_) close(fd);
  close(listen_fd_);
}

void StallingNatsPeer::Serve() {
  const std::string info = "INFO {\"server_id\":\"STALLING\",\"version\":\"2.9.0\","
                           "\"go\":\"go1.19\",\"host\":\"127.0.0.1\",\"port\":" +
                           std::to_string(port_) +
                           ",\"headers\":true,\"max_payload\":1048576,\"proto\":1}\r\n";
  while (!stop_) {
    pollfd listening{listen_fd_, POLLIN, 0};
    if (poll(&listening, 1, 50) <= 0) continue;
    const int fd = accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) continue;
    fds_.push_back(fd);
    if (send(fd, info.data(), info.size(), MSG_NOSIGNAL) < 0) continue;
    // Read CONNECT and the first PING (bounded), answer it, then stop reading.
    std::string seen;
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (seen.find("PING\r\n") == std::string::npos &&
           std::chrono::steady_clock::now() < end && !stop_) {
      pollfd client{fd, POLLIN, 0};
      if (poll(&client, 1, 50) <= 0) continue;
      char buf[4096];
      const ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) break;
      seen.append(buf, static_cast<size_t>(n));
    }
    if (seen.find("PING\r\n") == std::string::npos) continue;
    send(fd, "PONG\r\n", 6, MSG_NOSIGNAL);
    ++handshakes_;
  }
}

}  // namespace jss::testing

namespace jss::testing {

ChildProcess::ChildProcess(const std::vector<std::string>& argv,
                           const std::vector<std::string>& env) {
  char tmpl[] = "/tmp/jss-child-XXXXXX";
  int fd = mkstemp(tmpl);
  output_path_ = tmpl;
  pid_ = fork();
  if (pid_ == 0) {
    // Dies with us: a test or benchmark that crashes or is killed leaves no
    // process behind.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(fd, 1);
    dup2(fd, 2);
    for (const auto& e : env) putenv(strdup(e.c_str()));
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(strdup(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(fd);
}

ChildProcess::~ChildProcess() {
  if (Running()) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  unlink(output_path_.c_str());
}

bool ChildProcess::Running() {
  if (pid_ <= 0) return false;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  if (r == pid_) exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  pid_ = -1;
  return false;
}

int ChildProcess::Wait(std::chrono::milliseconds timeout) {
  if (!WaitFor([this] { return !Running(); }, timeout)) return -1;
  return exit_code_;
}

void ChildProcess::Signal(int sig) {
  if (pid_ > 0) kill(pid_, sig);
}

std::string ChildProcess::Output() const {
  std::ifstream in(output_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

ConnCounters ConnzCounters(int monitoring_port, const std::string& name) {
  ConnCounters counters;
  const HttpResponse r = HttpGet(monitoring_port, "/connz?limit=100000");
  if (r.status != 200) return counters;
  const auto json = nlohmann::json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object() || !json.contains("connections")) return counters;
  for (const auto& c : json["connections"]) {
    if (c.value("name", "") != name) continue;
    counters.found = true;
    counters.in_msgs = c.value("in_msgs", 0.0);
    counters.out_msgs = c.value("out_msgs", 0.0);
  }
  return counters;
}

namespace {

// nats-server's monitoring answers bodies over 4 KiB chunked (Go's net/http):
// the JSON of `body`, de-chunked when it is not JSON as it stands.
nlohmann::json MonitoringJson(const std::string& body) {
  auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!json.is_discarded()) return json;
  std::string joined;
  size_t at = 0;
  while (at < body.size()) {
    const size_t eol = body.find("\r\n", at);
    if (eol == std::string::npos) break;
    const size_t size = std::strtoul(body.substr(at, eol - at).c_str(), nullptr, 16);
    if (size == 0 || eol + 2 + size > body.size()) break;
    joined.append(body, eol + 2, size);
    at = eol + 2 + size + 2;
  }
  return nlohmann::json::parse(joined, nullptr, /*allow_exceptions=*/false);
}

}  // namespace

int ConnzSubscriptions(int monitoring_port, const std::string& name) {
  const HttpResponse r = HttpGet(monitoring_port, "/connz?limit=100000");
  if (r.status != 200) return -1;
  const auto json = MonitoringJson(r.body);
  if (!json.is_object() || !json.contains("connections")) return -1;
  for (const auto& c : json["connections"]) {
    if (c.value("name", "") == name) return c.value("subscriptions", -1);
  }
  return -1;
}

std::string VarzVersion(int monitoring_port) {
  const HttpResponse r = HttpGet(monitoring_port, "/varz");
  if (r.status != 200) return "";
  const auto json = MonitoringJson(r.body);
  return json.is_object() ? json.value("version", "") : "";
}

bool VersionAtLeast(const std::string& version, int major, int minor) {
  int got_major = 0;
  int got_minor = 0;
  if (std::sscanf(version.c_str(), "%d.%d", &got_major, &got_minor) != 2) return false;
  return got_major > major || (got_major == major && got_minor >= minor);
}

}  // namespace jss::testing
