#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "support/nats_server_process.h"

namespace jss::testing {

// A JetStream cluster of real nats-server processes on loopback: cluster
// "C", servers named n0..n(N-1), each with its own store directory, a client
// port and a monitoring port chosen by the server, and a route port picked
// up front (every server lists every route, so any one can be killed and
// restarted and rejoin).
class NatsCluster {
 public:
  // Returns nullptr and sets *error when a server did not come up or the
  // cluster elected no JetStream meta leader in time.
  // With `advertise` false the servers do not tell clients about each other
  // (--no_advertise), so a client reconnects only to the URLs it was given.
  static std::unique_ptr<NatsCluster> Start(int size, std::string* error, bool advertise = true);
  ~NatsCluster();
  NatsCluster(const NatsCluster&) = delete;
  NatsCluster& operator=(const NatsCluster&) = delete;

  int size() const { return static_cast<int>(servers_.size()); }
  std::string url(int i) const { return servers_[static_cast<size_t>(i)]->url(); }
  std::vector<std::string> urls() const;
  // All client URLs joined with ',' (what cnats' ConnectTo takes as a seed list).
  std::string seed_list() const;
  NatsServerProcess& server(int i) { return *servers_[static_cast<size_t>(i)]; }
  bool running(int i) const { return running_[static_cast<size_t>(i)]; }

  void Kill(int i);     // SIGKILL, reaped
  bool Restart(int i);  // same ports, same store directory

  // Waits until a running server answers $JS.API.INFO without an error: the
  // meta leader exists and the JetStream API is served.
  bool WaitForJetStream(std::chrono::milliseconds timeout);

  // Index of the server leading `consumer` on `stream` according to the
  // consumer's own CONSUMER.INFO answer (cluster.leader), or -1 when no
  // running server answers with a leader right now.
  int ConsumerLeader(const std::string& stream, const std::string& consumer);

  // Asks the consumer's leader to step down; true once another server leads
  // it (the new leader is elected among the current replicas).
  bool StepDownConsumerLeader(const std::string& stream, const std::string& consumer);

  // True when the stream and the consumer each have a leader and every other
  // server's replica is current, i.e. any single server can be lost next.
  bool FullyReplicated(const std::string& stream, const std::string& consumer);

  // Index of the running server that holds a client connection named
  // `client_name` (from each server's /connz), or -1.
  int ServerOfClient(const std::string& client_name);

  // The raw reply to a JetStream API request sent through the running
  // servers, or "" when nothing answered within `timeout`.
  std::string ApiRequest(const std::string& subject, std::chrono::milliseconds timeout);

 private:
  NatsCluster() = default;
  bool Launch(int size, bool advertise, std::string* error);

  std::vector<std::unique_ptr<NatsServerProcess>> servers_;
  std::vector<bool> running_;
};

}  // namespace jss::testing
