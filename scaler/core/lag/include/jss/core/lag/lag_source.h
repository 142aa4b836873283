#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include "jss/core/clock.h"
#include "jss/core/lag.h"
#include "jss/core/status.h"

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

using LagResult = core::StatusOr<ConsumerLag>;
using LagCallback = std::function<void(const LagResult&)>;

// Asynchronous source of consumer lag. The callback runs exactly once, either
// inline or later on another thread, and no later than shortly after
// `deadline`. Implementations never block the caller on I/O.
class LagSource {
 public:
  virtual ~LagSource() = default;
  virtual void ReadLag(const ConsumerKey& key, SteadyTime deadline, LagCallback done) = 0;
  // Like ReadLag, but the result comes from a request sent at or after
  // `not_before` (a source that shares or caches reads must not answer with
  // an older one). A source without a cache reads afresh anyway.
  virtual void ReadLagSentAfter(const ConsumerKey& key, SteadyTime /*not_before*/,
                                SteadyTime deadline, LagCallback done) {
    ReadLag(key, deadline, std::move(done));
  }
};

}  // namespace jss::core
