#include "jetstream_headers.h"

#include <nats/nats.h>

#include <cstdlib>

#include "jss/core/base/strings.h"

namespace jss::nats {
namespace {

// The last value of `name`: nats-server appends its own Nats-* headers to
// the ones the publisher sent, so a publisher's forged Nats-Time-Stamp (or
// Nats-Sequence) comes first and the server's last.
const char* LastValue(natsMsg* msg, const char* name) {
  const char** values = nullptr;
  int count = 0;
  if (natsMsgHeader_Values(msg, name, &values, &count) != NATS_OK || values == nullptr) {
    return nullptr;
  }
  const char* last = count > 0 ? values[count - 1] : nullptr;
  std::free(static_cast<void*>(values));
  return last;  // owned by the message
}

void Append(std::string* out, const char* name, const char* value) {
  if (value == nullptr) return;
  *out += name;
  *out += ": ";
  *out += core::Truncate(value, 64);
  *out += "\r\n";
}

}  // namespace

std::string JetStreamHeaders(natsMsg* msg) {
  std::string out;
  // A stored message: the server stamped it. Its own headers (a "Status: 404"
  // the publisher set, say) are the tenant's, not the reply's status.
  if (const char* seq = LastValue(msg, "Nats-Sequence"); seq != nullptr) {
    Append(&out, "Nats-Sequence", seq);
    Append(&out, "Nats-Time-Stamp", LastValue(msg, "Nats-Time-Stamp"));
    return out;
  }
  if (natsMsg_IsNoResponders(msg)) return "Status: 503\r\n";
  // A status-only reply (404 no message, 408, ...): nothing but the server's.
  const char* value = nullptr;
  if (natsMsgHeader_Get(msg, "Status", &value) == NATS_OK) Append(&out, "Status", value);
  value = nullptr;
  if (natsMsgHeader_Get(msg, "Description", &value) == NATS_OK) {
    Append(&out, "Description", value);
  }
  return out;
}

}  // namespace jss::nats
