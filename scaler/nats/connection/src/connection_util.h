#pragma once
// Small helpers shared by the files of NatsConnection (private to the room).

#include <nats/nats.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "jss/core/base/clock.h"

namespace jss::nats::detail {

// cnats' last error text for a connection (never holds secrets: it is the
// server's -ERR line or a local error description).
inline std::string LastError(natsConnection* conn) {
  if (conn == nullptr) return "";
  const char* text = nullptr;
  const natsStatus s = natsConnection_GetLastError(conn, &text);
  if (s == NATS_OK) return "";
  return text != nullptr && *text ? std::string(text) : std::string(natsStatus_GetText(s));
}

struct OptionsDeleter {
  void operator()(natsOptions* o) const { natsOptions_Destroy(o); }
};
using OptionsPtr = std::unique_ptr<natsOptions, OptionsDeleter>;

inline double SecondsSince(core::SteadyTime start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The account's JetStream info, with `api.level` on nats-server 2.11+. Always
// the connected server's own domain: the level says which server we reached.
constexpr const char* kApiInfoSubject = "$JS.API.INFO";

inline int64_t Ticks(core::SteadyTime t) { return t.time_since_epoch().count(); }

inline int64_t TicksOf(std::chrono::milliseconds d) {
  return std::chrono::duration_cast<core::SteadyTime::duration>(d).count();
}

}  // namespace jss::nats::detail
