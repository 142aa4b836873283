#pragma once

#include <string>

struct __natsMsg;

namespace jss::nats {

// What a direct-get reply says, as "Name: value\r\n" lines (each value cut to
// 64 bytes, absent ones left out): for a stored message the server's
// Nats-Sequence and Nats-Time-Stamp (the last of each: a publisher may have
// sent its own), otherwise the reply's Status and Description; a
// no-responders reply is "Status: 503". Reads cnats' parsed headers only:
// the payload is never touched, so a direct get of a large message costs no
// copy.
std::string JetStreamHeaders(__natsMsg* msg);

}  // namespace jss::nats
