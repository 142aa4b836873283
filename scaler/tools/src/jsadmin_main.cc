// jss-jsadmin: tiny JetStream admin CLI for the demo and manual testing.
//   jss-jsadmin URL add-stream NAME SUBJECT[,SUBJECT...]
//   jss-jsadmin URL add-consumer STREAM DURABLE [FILTER_SUBJECT]
//   jss-jsadmin URL publish SUBJECT COUNT
//   jss-jsadmin URL fetch STREAM DURABLE COUNT ack|noack
//   jss-jsadmin URL info STREAM DURABLE
#include <nats/nats.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "jss/core/base/strings.h"
#include "jss/tools/jetstream_admin.h"

namespace {

int Usage() {
  std::cerr << "usage: jss-jsadmin URL add-stream NAME SUBJECTS | add-consumer STREAM DURABLE "
               "[FILTER] | publish SUBJECT COUNT | fetch STREAM DURABLE COUNT ack|noack | "
               "info STREAM DURABLE\n";
  return 2;
}

int Fail(const jss::core::Status& s) {
  std::cerr << "jss-jsadmin: " << s.ToString() << "\n";
  return 1;
}

int Run(const std::vector<std::string>& a) {
  if (a.size() < 2) return Usage();
  auto admin = jss::tools::JetStreamAdmin::Connect(a[0]);
  if (!admin.ok()) return Fail(admin.status());
  const std::string& cmd = a[1];
  if (cmd == "add-stream" && a.size() == 4) {
    jss::tools::StreamSpec spec{a[2], {}};
    for (auto s : jss::core::SplitNonEmpty(a[3], ',')) spec.subjects.emplace_back(s);
    auto st = (*admin)->AddStream(spec);
    if (!st.ok()) return Fail(st);
    std::cout << "stream " << a[2] << " created\n";
    return 0;
  }
  if (cmd == "add-consumer" && (a.size() == 4 || a.size() == 5)) {
    auto st = (*admin)->AddConsumer({a[2], a[3], a.size() == 5 ? a[4] : ""});
    if (!st.ok()) return Fail(st);
    std::cout << "consumer " << a[3] << " created on " << a[2] << "\n";
    return 0;
  }
  if (cmd == "publish" && a.size() == 4) {
    auto st = (*admin)->Publish(a[2], std::atoi(a[3].c_str()));
    if (!st.ok()) return Fail(st);
    std::cout << "published " << a[3] << " messages to " << a[2] << "\n";
    return 0;
  }
  if (cmd == "fetch" && a.size() == 6) {
    auto n = (*admin)->Fetch(a[2], a[3], std::atoi(a[4].c_str()), a[5] == "ack");
    if (!n.ok()) return Fail(n.status());
    std::cout << "fetched " << *n << " messages (" << (a[5] == "ack" ? "acked" : "not acked")
              << ")\n";
    return 0;
  }
  if (cmd == "info" && a.size() == 4) {
    auto lag = (*admin)->ConsumerInfo(a[2], a[3]);
    if (!lag.ok()) return Fail(lag.status());
    std::cout << "num_pending=" << lag->num_pending << " num_ack_pending=" << lag->num_ack_pending
              << "\n";
    return 0;
  }
  return Usage();
}

}  // namespace

int main(int argc, char** argv) {
  const int rc = Run(std::vector<std::string>(argv + 1, argv + argc));
  nats_Close();
  return rc;
}
