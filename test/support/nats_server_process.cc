#include "support/nats_server_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <regex>
#include <sstream>

#include "support/test_util.h"

namespace jss::testing {
namespace {

// The first of these that is set and non-empty names the binary.
// JSS_NATS_SERVER is the one switch of the server matrix (scripts/test.sh,
// scripts/nats-server.sh); NATS_SERVER_BIN is its older spelling, kept
// because test/chart/check.sh and people's shells still set it.
std::string NatsServerBinary() {
  for (const char* name : {"JSS_NATS_SERVER", "NATS_SERVER_BIN"}) {
    const char* bin = std::getenv(name);
    if (bin != nullptr && *bin != '\0') return bin;
  }
  return "nats-server";
}

// `BINARY --version`'s one line (e.g. "nats-server: v2.15.3"), or why there
// is none.
std::string VersionOf(const std::string& binary) {
  const std::string command = "'" + binary + "' --version 2>&1";
  FILE* out = popen(command.c_str(), "r");
  if (out == nullptr) return "(could not run " + binary + " --version)";
  char line[256] = {};
  const bool read = fgets(line, sizeof line, out) != nullptr;
  pclose(out);
  std::string version = read ? line : "(no output from " + binary + " --version)";
  while (!version.empty() && (version.back() == '\n' || version.back() == '\r')) {
    version.pop_back();
  }
  return version;
}

}  // namespace

const std::string& NatsServerProcess::Version() {
  static const std::string version = VersionOf(NatsServerBinary());
  return version;
}

bool NatsServerProcess::VersionAtLeast(int major, int minor, int patch) {
  std::smatch m;
  static const std::regex kVersion("v(\\d+)\\.(\\d+)\\.(\\d+)");
  if (!std::regex_search(Version(), m, kVersion)) return false;
  const int have[3] = {std::stoi(m[1]), std::stoi(m[2]), std::stoi(m[3])};
  const int want[3] = {major, minor, patch};
  for (int i = 0; i < 3; ++i) {
    if (have[i] != want[i]) return have[i] > want[i];
  }
  return true;
}

void NatsServerProcess::LogVersionOnce() {
  // Once per test process: which server a matrix run (or a hand-picked
  // JSS_NATS_SERVER) really exercised is in every test log.
  static std::once_flag once;
  std::call_once(once, [] {
    std::fprintf(stderr, "[nats-server] %s (%s)\n", Version().c_str(), NatsServerBinary().c_str());
  });
}

std::unique_ptr<NatsServerProcess> NatsServerProcess::Start(const Options& options,
                                                            std::string* error) {
  LogVersionOnce();
  std::unique_ptr<NatsServerProcess> p(new NatsServerProcess());
  p->options_ = options;
  char tmpl[] = "/tmp/jss-nats-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    *error = "mkdtemp failed";
    return nullptr;
  }
  p->dir_ = tmpl;
  p->log_path_ = p->dir_ + "/nats-server.log";
  if (!p->Launch(-1, error)) return nullptr;
  return p;
}

bool NatsServerProcess::Launch(int port, std::string* error) {
  const std::string ports_dir = dir_ + "/ports";
  std::filesystem::remove_all(ports_dir);
  std::filesystem::create_directories(ports_dir);
  std::vector<std::string> args = {NatsServerBinary(), "-a", "127.0.0.1", "-p",
                                   std::to_string(port), "--ports_file_dir", ports_dir};
  if (options_.jetstream) {
    args.insert(args.end(), {"-js", "-sd", dir_ + "/store"});
  }
  if (options_.monitoring) args.insert(args.end(), {"-m", "-1"});
  if (!options_.token.empty()) args.insert(args.end(), {"--auth", options_.token});
  args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());

  pid_ = fork();
  if (pid_ == 0) {
    // Dies with us: a test or benchmark that crashes or is killed leaves no
    // process behind.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  if (pid_ < 0) {
    *error = "fork failed";
    return false;
  }
  // The ports file appears once the server listens; its name carries the pid.
  const std::string ports_file = ports_dir + "/" +
                                 std::filesystem::path(args[0]).filename().string() + "_" +
                                 std::to_string(pid_) + ".ports";
  std::string content;
  const bool up = WaitFor([&] {
    std::ifstream in(ports_file);
    if (!in) return false;
    std::stringstream ss;
    ss << in.rdbuf();
    content = ss.str();
    // tls:// when the server requires TLS.
    return (content.find("nats://") != std::string::npos ||
            content.find("tls://") != std::string::npos) &&
           (!options_.monitoring || content.find("http://") != std::string::npos);
  });
  if (!up) {
    *error = "nats-server did not start (see " + log_path_ + ")";
    Kill();
    return false;
  }
  std::smatch m;
  if (std::regex_search(content, m, std::regex("(?:nats|tls)://127\\.0\\.0\\.1:(\\d+)"))) {
    port_ = std::stoi(m[1]);
  }
  if (std::regex_search(content, m, std::regex("http://127\\.0\\.0\\.1:(\\d+)"))) {
    monitoring_port_ = std::stoi(m[1]);
  }
  if (port_ <= 0) {
    *error = "could not read the port from " + ports_file;
    return false;
  }
  return true;
}

NatsServerProcess::~NatsServerProcess() {
  Kill();
  if (!dir_.empty()) std::filesystem::remove_all(dir_);
}

std::string NatsServerProcess::url() const {
  return "nats://127.0.0.1:" + std::to_string(port_);
}

void NatsServerProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGCONT);
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

bool NatsServerProcess::Restart() {
  Kill();
  std::string error;
  return Launch(port_, &error);
}

void NatsServerProcess::Pause() {
  if (pid_ <= 0) return;
  kill(pid_, SIGSTOP);
  // SIGSTOP takes effect asynchronously: wait until the kernel reports the
  // process stopped ('T' in /proc/<pid>/stat), so nothing it answers later
  // can have been sent after Pause() returned.
  const std::string stat_path = "/proc/" + std::to_string(pid_) + "/stat";
  WaitFor([&] {
    std::ifstream in(stat_path);
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto paren = stat.rfind(')');
    return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'T';
  });
}

void NatsServerProcess::Resume() {
  if (pid_ > 0) kill(pid_, SIGCONT);
}

}  // namespace jss::testing
