#pragma once

#include <string>

#include "jss/core/base/status.h"

namespace jss::server {

// gRPC binds its listening sockets with SO_REUSEPORT (which the GOAWAY swap relies on to
// start a replacement server on the same port), so a second scaler on the same address
// would start normally and the kernel would split KEDA's connections between the two. This
// binds `address` (host:port or [v6]:port) once without SO_REUSEPORT and releases it at
// once: an address already in use is refused, naming `flag` and the address. Port 0 and
// unix: addresses are not probed; other bind errors are left to gRPC to report.
core::Status ProbeListenAddress(const std::string& flag, const std::string& address);

}  // namespace jss::server
