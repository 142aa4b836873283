#include "listen_probe.h"

#include <fmt/format.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace jss::server {

core::Status ProbeListenAddress(const std::string& flag, const std::string& address) {
  if (address.rfind("unix:", 0) == 0 || address.rfind("unix-abstract:", 0) == 0) {
    return core::OkStatus();
  }
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) return core::OkStatus();  // gRPC names what is wrong
  std::string host = address.substr(0, colon);
  const std::string port = address.substr(colon + 1);
  if (port.empty() || port == "0") return core::OkStatus();
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &found) != 0) {
    return core::OkStatus();
  }
  core::Status result = core::OkStatus();
  for (addrinfo* ai = found; ai != nullptr && result.ok(); ai = ai->ai_next) {
    const int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    // As gRPC does: a port whose last connections are in TIME_WAIT is free to listen on.
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno == EADDRINUSE) {
      result = core::InvalidArgumentError(fmt::format(
          "--{} \"{}\": the address is already in use (another jetstream-scaler or another "
          "process listens there); choose a free port or stop the other process",
          flag, address));
    }
    close(fd);
  }
  freeaddrinfo(found);
  return result;
}

}  // namespace jss::server
