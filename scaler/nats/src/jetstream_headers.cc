#include "jetstream_headers.h"

#include <nats/nats.h>

#include "jss/core/strings.h"

namespace jss::nats {

std::string JetStreamHeaders(natsMsg* msg) {
  // Only the names the age read decodes: a tenant's own message headers may
  // be many and large, and are none of our business.
  static constexpr const char* kNames[] = {"Status", "Description", "Nats-Sequence",
                                           "Nats-Time-Stamp"};
  std::string out;
  if (natsMsg_IsNoResponders(msg)) return "Status: 503\r\n";
  for (const char* name : kNames) {
    const char* value = nullptr;
    if (natsMsgHeader_Get(msg, name, &value) != NATS_OK || value == nullptr) continue;
    out += name;
    out += ": ";
    out += core::Truncate(value, 64);
    out += "\r\n";
  }
  // Headers cnats could not parse leave nothing here; the decoder then
  // reports the missing Nats-Sequence instead of guessing.
  return out;
}

}  // namespace jss::nats
