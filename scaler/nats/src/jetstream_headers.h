#pragma once

#include <string>

struct __natsMsg;

namespace jss::nats {

// The status and JetStream message headers of a reply (Status, Description,
// Nats-Sequence, Nats-Time-Stamp) as "Name: value\r\n" lines, each value cut
// to 64 bytes; absent headers are left out. Reads cnats' parsed headers only:
// the payload is never touched, so a direct get of a large message costs no
// copy. A no-responders reply is "Status: 503".
std::string JetStreamHeaders(__natsMsg* msg);

}  // namespace jss::nats
