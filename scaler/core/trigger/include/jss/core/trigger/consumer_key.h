#pragma once

#include <cstddef>
#include <functional>
#include <string>

namespace jss::core {

// Which consumer, read through which configured connection.
struct ConsumerKey {
  std::string connection;
  std::string stream;
  std::string consumer;

  bool operator==(const ConsumerKey& o) const {
    return connection == o.connection && stream == o.stream && consumer == o.consumer;
  }
};

struct ConsumerKeyHash {
  size_t operator()(const ConsumerKey& k) const {
    size_t h = std::hash<std::string>()(k.connection);
    h = h * 31 + std::hash<std::string>()(k.stream);
    h = h * 31 + std::hash<std::string>()(k.consumer);
    return h;
  }
};

}  // namespace jss::core
