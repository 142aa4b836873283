#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

namespace jss::testing {

// A real nats-server child process with JetStream, on loopback, on a free
// port chosen by the server itself (-p -1; the port is read from its ports
// file). The binary is $JSS_NATS_SERVER (the server matrix' switch), else
// $NATS_SERVER_BIN (its older name), else `nats-server` on PATH.
class NatsServerProcess {
 public:
  struct Options {
    bool jetstream = true;
    bool monitoring = false;  // -m -1: HTTP monitoring on a free port
    std::string token;        // --auth
    std::vector<std::string> extra_args;
  };

  // Returns nullptr and sets *error when the server did not come up.
  static std::unique_ptr<NatsServerProcess> Start(const Options& options, std::string* error);
  ~NatsServerProcess();

  // The binary's `--version` line, e.g. "nats-server: v2.15.3" (read once).
  static const std::string& Version();
  // Prints the version and binary to stderr, once per process; Start does it.
  static void LogVersionOnce();
  // True when Version() is vMAJOR.MINOR.PATCH or newer; false when unreadable.
  static bool VersionAtLeast(int major, int minor, int patch);

  std::string url() const;
  int port() const { return port_; }
  int monitoring_port() const { return monitoring_port_; }
  pid_t pid() const { return pid_; }
  const std::string& log_path() const { return log_path_; }

  void Kill();             // SIGKILL, reaped
  bool Restart();          // same port and store directory
  void Pause();             // SIGSTOP: TCP stays up, nothing is answered
  void Resume();            // SIGCONT

 private:
  NatsServerProcess() = default;
  bool Launch(int port, std::string* error);

  Options options_;
  std::string dir_;
  std::string log_path_;
  pid_t pid_ = -1;
  int port_ = -1;
  int monitoring_port_ = -1;
};

}  // namespace jss::testing
