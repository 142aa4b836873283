#include "jss/nats/jetstream/jetstream_lag_source.h"

#include <fmt/format.h>

#include <utility>

#include "jss/core/base/status.h"
#include "jss/core/base/strings.h"
#include "jss/core/lag/consumer_info_decoder.h"

namespace jss::nats {

JetStreamLagSource::JetStreamLagSource(const JetStreamConnections& connections,
                                       std::shared_ptr<logging::Logger> logger)
    : connections_(connections), logger_(std::move(logger)) {}

void JetStreamLagSource::ReadLag(const core::ConsumerKey& key, core::SteadyTime deadline,
                                 core::LagCallback done) {
  const JetStreamEndpoint* endpoint = connections_.Find(key.connection);
  if (endpoint == nullptr) {
    done(core::InternalError(fmt::format("no NATS connection named \"{}\"", key.connection)));
    return;
  }
  endpoint->connection->Request(
      endpoint->api.ConsumerInfo(key.stream, key.consumer), deadline,
      [this, key, done = std::move(done)](const core::StatusOr<std::string>& reply) {
        if (!reply.ok()) {
          done(reply.status());
          return;
        }
        auto lag = core::DecodeConsumerInfoResponse(*reply, key.stream, key.consumer);
        if (lag.ok()) NotePause(key, *lag);
        done(lag);
      });
}

void JetStreamLagSource::NotePause(const core::ConsumerKey& key, const core::ConsumerLag& lag) {
  if (logger_ == nullptr) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (lag.paused) {
      if (paused_.count(key) != 0 || paused_.size() >= kMaxPausedTracked) return;
      paused_.insert(key);
    } else if (paused_.erase(key) == 0) {
      return;  // the usual case: not paused, and not paused before
    }
  }
  // Its workers receive nothing until the pause ends; the lag (and so the
  // replica count KEDA asks for) stays what the consumer really has waiting,
  // so scaling to zero keeps the backlog visible and nothing is fabricated.
  const std::string stream = core::Truncate(key.stream, 255);
  const std::string consumer = core::Truncate(key.consumer, 255);
  const std::string total = fmt::format("{}", lag.Total());
  if (lag.paused) {
    const std::string remaining = fmt::format("{}", lag.pause_remaining_ns / 1'000'000'000);
    logger_->Warn(
        "consumer is paused: its workers receive nothing until it resumes; lag reported as read",
        {{"connection", key.connection},
         {"stream", stream},
         {"consumer", consumer},
         {"lag", total},
         {"pause_remaining_s", remaining}});
  } else {
    logger_->Info("consumer resumed", {{"connection", key.connection},
                                       {"stream", stream},
                                       {"consumer", consumer},
                                       {"lag", total}});
  }
}

}  // namespace jss::nats
