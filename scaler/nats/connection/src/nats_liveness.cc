// NatsConnection's liveness: our own PING/PONG (a peer that answers the
// handshake and then goes silent), and the JetStream API level probe.
#include <nats/nats.h>
#include <fmt/format.h>

#include <string>

#include "connection_util.h"
#include "io_queue.h"
#include "jss/core/lag/consumer_info_decoder.h"
#include "jss/nats/connection/nats_connection.h"

namespace jss::nats {

using detail::kApiInfoSubject;
using detail::Ticks;
using detail::TicksOf;

void NatsConnection::MarkAlive() { last_alive_ = Ticks(std::chrono::steady_clock::now()); }

void NatsConnection::MarkUnresponsive(std::string_view why) {
  if (unresponsive_.exchange(true)) return;
  logger_->Warn("NATS peer is not answering; reporting not ready and failing reads",
                {{"connection", options_.name}, {"cause", why}});
}

void NatsConnection::SchedulePing() {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return;
  ping_task_ = Schedule(options_.ping_interval, [this] {
    Ping();
    SchedulePing();
  });
}

// cnats' own keep-alive only reconnects after `max_pings_out` silent
// intervals, and the reconnect's handshake makes a peer that answers it and
// then goes silent look healthy again. So a connection that sent nothing for
// a ping interval is asked for a PONG here; without one within
// `pong_timeout` it is unresponsive (not ready, reads fail at once) until it
// answers a later PING or a request, whatever reconnects happen meanwhile.
void NatsConnection::Ping() {
  if (!connected_.load()) return;
  const int64_t now = Ticks(std::chrono::steady_clock::now());
  // Heard from within half an interval: no need to ask. Not a whole one: a
  // reply just after a tick (the API-level probe's, right after connecting)
  // would push our PING back a tick, and cnats' own verdict on a silent peer
  // (two intervals of unanswered PINGs, reported with no error) could then
  // come first and leave the silence unreported.
  if (!unresponsive_.load() &&
      now - last_alive_.load() < TicksOf(options_.ping_interval) / 2) {
    return;
  }
  if (ping_in_flight_.exchange(true)) return;
  // On the I/O thread: waiting for the PONG blocks it, never the scheduler.
  const bool posted = io_->Post([this] {
    // Shorter than cnats' own verdict (max_pings_out intervals), which would
    // otherwise drop the socket under this wait first.
    const auto timeout = std::min(options_.pong_timeout, options_.ping_interval);
    const natsStatus s = natsConnection_FlushTimeout(conn_, timeout.count());
    ping_in_flight_ = false;
    if (s == NATS_OK) {
      ++pongs_;
      MarkAlive();
      if (unresponsive_.exchange(false)) {
        logger_->Info("NATS peer answers again; reporting ready",
                      {{"connection", options_.name}});
      }
    } else if (s == NATS_TIMEOUT && connected_.load()) {
      MarkUnresponsive("no PONG within the timeout");
    }
  });
  if (!posted) ping_in_flight_ = false;
}

void NatsConnection::MaybeProbeApiLevel() {
  // Connected callbacks can run before Start has subscribed the reply inbox
  // (and Start then asks itself): each connect is asked about once.
  if (!inbox_ready_.load() || !connected_.load() || stopping_requested_.load()) return;
  const uint64_t connect = connects_.load();
  uint64_t probed = probed_connects_.load();
  while (probed < connect) {
    if (probed_connects_.compare_exchange_weak(probed, connect)) {
      ProbeApiLevel();
      return;
    }
  }
}

void NatsConnection::ProbeApiLevel() {
  char server_id[128] = "";
  if (natsConnection_GetConnectedServerId(conn_, server_id, sizeof(server_id)) != NATS_OK) {
    server_id[0] = '\0';
  }
  // cnats 3.4 does not expose the server's version; its id names it (the
  // server logs the id with its version at start-up, and /varz shows both).
  Request(kApiInfoSubject, std::chrono::steady_clock::now() + options_.connect_timeout,
          [this, server = std::string(server_id)](const core::StatusOr<std::string>& reply) {
            core::StatusOr<std::optional<int64_t>> level =
                reply.ok() ? core::DecodeApiLevel(*reply) : reply.status();
            if (stopping_requested_.load()) return;  // failed by our own shutdown
            const int64_t value = level.ok() && level->has_value() ? **level : 0;
            observer_.OnApiLevel(options_.name, value);
            if (level.ok()) {
              logger_->Info("JetStream API level",
                            {{"connection", options_.name},
                             {"server_id", server},
                             {"api_level", level->has_value() ? fmt::format("{}", **level)
                                                              : std::string("none")}});
              return;
            }
            // Not a reason to stop: lag reads need only CONSUMER.INFO. An
            // operator who wants the level grants publish on $JS.API.INFO.
            logger_->Info("JetStream API level unknown (reads need no level)",
                          {{"connection", options_.name},
                           {"server_id", server},
                           {"api_level", "none"},
                           {"error", level.status().message()}});
          });
}

}  // namespace jss::nats
