#pragma once

#include <string>

namespace jss::bench {

// Serves ExternalScaler with constant answers and no work at all: the
// physical limit of gRPC on this machine for the same load. Blocks until
// SIGTERM/SIGINT. Prints "port=N" on stdout once listening.
int RunNoopServer(const std::string& address);

}  // namespace jss::bench
