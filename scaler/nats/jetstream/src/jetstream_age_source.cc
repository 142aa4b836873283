#include "jss/nats/jetstream/jetstream_age_source.h"

#include <utility>

namespace jss::nats {

void JetStreamAgeSource::ReadLag(const core::ConsumerKey& key, core::SteadyTime deadline,
                                 core::LagCallback done) {
  reader_.ReadConsumerAndAge(
      key, deadline, [done = std::move(done)](const core::StatusOr<ConsumerAge>& read) {
        if (!read.ok()) {
          done(read.status());
          return;
        }
        core::ConsumerLag lag = read->position.lag;
        lag.oldest_age_ms = read->age.age_ms;
        done(lag);
      });
}

}  // namespace jss::nats
