#include "support/nats_cluster.h"

#include <nats/nats.h>

#include <regex>

#include "support/test_util.h"

namespace jss::testing {
namespace {

constexpr int kLaunchAttempts = 3;

std::string Join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : sep) + p;
  return out;
}

}  // namespace

std::unique_ptr<NatsCluster> NatsCluster::Start(int size, std::string* error, bool advertise) {
  std::unique_ptr<NatsCluster> cluster(new NatsCluster());
  // Route ports must be known before any server starts (every server lists
  // them all), so they are picked rather than chosen by the servers; a port
  // taken in between makes a server fail to start, and a fresh set is tried.
  for (int attempt = 0; attempt < kLaunchAttempts; ++attempt) {
    if (cluster->Launch(size, advertise, error)) break;
    cluster->servers_.clear();
    cluster->running_.clear();
  }
  if (cluster->servers_.empty()) return nullptr;
  if (!cluster->WaitForJetStream(std::chrono::seconds(30))) {
    *error = "the cluster elected no JetStream meta leader (see " +
             cluster->server(0).log_path() + ")";
    return nullptr;
  }
  return cluster;
}

bool NatsCluster::Launch(int size, bool advertise, std::string* error) {
  std::vector<std::string> routes;
  std::vector<int> route_ports;
  for (int i = 0; i < size; ++i) {
    route_ports.push_back(PickFreePort());
    routes.push_back("nats://127.0.0.1:" + std::to_string(route_ports.back()));
  }
  // A server ignores the route to itself, so one list serves every server.
  const std::string all_routes = Join(routes, ",");
  for (int i = 0; i < size; ++i) {
    NatsServerProcess::Options options;
    options.monitoring = true;  // /connz tells which server a client is on
    options.extra_args = {"--server_name", "n" + std::to_string(i),
                          "--cluster_name", "C",
                          "--cluster", routes[static_cast<size_t>(i)],
                          "--routes", all_routes};
    if (!advertise) options.extra_args.push_back("--no_advertise=true");
    auto server = NatsServerProcess::Start(options, error);
    if (server == nullptr) return false;
    servers_.push_back(std::move(server));
    running_.push_back(true);
  }
  return true;
}

NatsCluster::~NatsCluster() = default;

std::vector<std::string> NatsCluster::urls() const {
  std::vector<std::string> out;
  for (const auto& s : servers_) out.push_back(s->url());
  return out;
}

std::string NatsCluster::seed_list() const { return Join(urls(), ","); }

void NatsCluster::Kill(int i) {
  server(i).Kill();
  running_[static_cast<size_t>(i)] = false;
}

bool NatsCluster::Restart(int i) {
  const bool up = server(i).Restart();
  running_[static_cast<size_t>(i)] = up;
  return up;
}

std::string NatsCluster::ApiRequest(const std::string& subject,
                                    std::chrono::milliseconds timeout) {
  std::vector<std::string> live;
  for (int i = 0; i < size(); ++i) {
    if (running(i)) live.push_back(url(i));
  }
  if (live.empty()) return "";
  std::vector<const char*> servers;
  for (const auto& u : live) servers.push_back(u.c_str());
  natsOptions* opts = nullptr;
  if (natsOptions_Create(&opts) != NATS_OK) return "";
  natsOptions_SetServers(opts, servers.data(), static_cast<int>(servers.size()));
  natsOptions_SetTimeout(opts, timeout.count());
  natsOptions_SetAllowReconnect(opts, false);
  natsConnection* conn = nullptr;
  const natsStatus s = natsConnection_Connect(&conn, opts);
  natsOptions_Destroy(opts);
  if (s != NATS_OK) return "";
  natsMsg* reply = nullptr;
  std::string out;
  if (natsConnection_RequestString(&reply, conn, subject.c_str(), "", timeout.count()) ==
          NATS_OK &&
      reply != nullptr) {
    const char* data = natsMsg_GetData(reply);
    if (data != nullptr) out.assign(data, static_cast<size_t>(natsMsg_GetDataLength(reply)));
  }
  natsMsg_Destroy(reply);
  natsConnection_Destroy(conn);
  return out;
}

bool NatsCluster::WaitForJetStream(std::chrono::milliseconds timeout) {
  // In a cluster the account info request is answered only once a meta
  // leader exists; before that it gets no answer or a "not available" error.
  return WaitFor(
      [&] {
        const std::string reply = ApiRequest("$JS.API.INFO", std::chrono::seconds(1));
        return !reply.empty() && reply.find("\"error\"") == std::string::npos;
      },
      timeout);
}

int NatsCluster::ConsumerLeader(const std::string& stream, const std::string& consumer) {
  const std::string reply = ApiRequest("$JS.API.CONSUMER.INFO." + stream + "." + consumer,
                                       std::chrono::seconds(2));
  std::smatch m;
  if (reply.find("\"error\"") != std::string::npos ||
      !std::regex_search(reply, m, std::regex("\"cluster\":\\{[^}]*\"leader\":\"n(\\d+)\""))) {
    return -1;
  }
  return std::stoi(m[1]);
}

bool NatsCluster::StepDownConsumerLeader(const std::string& stream,
                                         const std::string& consumer) {
  const int before = ConsumerLeader(stream, consumer);
  if (before < 0) return false;
  const std::string reply = ApiRequest(
      "$JS.API.CONSUMER.LEADER.STEPDOWN." + stream + "." + consumer, std::chrono::seconds(2));
  if (reply.find("\"success\":true") == std::string::npos) return false;
  return WaitFor([&] {
    const int now = ConsumerLeader(stream, consumer);
    return now >= 0 && now != before;
  });
}

bool NatsCluster::FullyReplicated(const std::string& stream, const std::string& consumer) {
  // cluster.replicas lists the servers other than the leader.
  const auto current_followers = [](const std::string& reply) {
    int n = 0;
    for (size_t at = reply.find("\"current\":true"); at != std::string::npos;
         at = reply.find("\"current\":true", at + 1)) {
      ++n;
    }
    return n;
  };
  const std::string si = ApiRequest("$JS.API.STREAM.INFO." + stream, std::chrono::seconds(2));
  const std::string ci = ApiRequest("$JS.API.CONSUMER.INFO." + stream + "." + consumer,
                                    std::chrono::seconds(2));
  return ConsumerLeader(stream, consumer) >= 0 && si.find("\"error\"") == std::string::npos &&
         current_followers(si) == size() - 1 && current_followers(ci) == size() - 1;
}

int NatsCluster::ServerOfClient(const std::string& client_name) {
  const std::regex named("\"name\":\\s*\"" + client_name + "\"");
  for (int i = 0; i < size(); ++i) {
    if (!running(i)) continue;
    const HttpResponse connz = HttpGet(server(i).monitoring_port(), "/connz");
    if (connz.status == 200 && std::regex_search(connz.body, named)) return i;
  }
  return -1;
}

}  // namespace jss::testing
