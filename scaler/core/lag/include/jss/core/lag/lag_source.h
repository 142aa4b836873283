#pragma once

#include <cstddef>
#include <functional>

#include "jss/core/base/clock.h"
#include "jss/core/base/status.h"
#include "jss/core/lag/lag.h"
#include "jss/core/trigger/consumer_key.h"

namespace jss::core {

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
