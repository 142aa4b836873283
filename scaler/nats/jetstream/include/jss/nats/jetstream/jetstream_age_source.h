#pragma once

#include "jss/core/lag/lag_source.h"
#include "jss/nats/jetstream/oldest_message_age.h"

namespace jss::nats {

// The source of age triggers: one CONSUMER.INFO and the age read made from it
// (OldestMessageAgeReader), as a LagSource whose ConsumerLag carries
// `oldest_age_ms`, so that the core's coalescing cache shares and bounds age
// reads exactly as it does lag reads (many ScaledObjects on one consumer:
// one read per freshness window).
class JetStreamAgeSource final : public core::LagSource {
 public:
  // `reader` must outlive this object.
  explicit JetStreamAgeSource(OldestMessageAgeReader& reader) : reader_(reader) {}

  void ReadLag(const core::ConsumerKey& key, core::SteadyTime deadline,
               core::LagCallback done) override;

 private:
  OldestMessageAgeReader& reader_;
};

}  // namespace jss::nats
