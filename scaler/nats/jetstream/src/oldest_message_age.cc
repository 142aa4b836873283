#include "jss/nats/jetstream/oldest_message_age.h"

#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "jss/core/base/strings.h"

namespace jss::nats {
namespace {

int64_t SystemNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A JSON string literal: subjects come from the server's consumer config and
// may hold any byte NATS allows.
std::string JsonString(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(static_cast<unsigned char>(c)));
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// The joint state of one age read's message gets.
struct Join {
  std::mutex mu;
  int remaining = 0;
  int requests = 0;
  std::optional<core::StoredMessageTime> oldest;
  std::optional<core::Status> error;
  AgeCallback done;
};

// One message get of `join` answered: the oldest so far is kept, and the
// last answer reports (any error wins over an age: no partial answer).
void Settle(Join& join, const core::StatusOr<std::optional<core::StoredMessageTime>>& found,
            int requests, int64_t now_ns, std::optional<int64_t> start_ns) {
  AgeCallback finish;
  MessageAge age;
  std::optional<core::Status> error;
  {
    std::lock_guard<std::mutex> lock(join.mu);
    join.requests += requests;
    if (!found.ok()) {
      // NOT_FOUND (the stream went away) wins over a transient error.
      if (!join.error || found.status().code() == core::StatusCode::kNotFound) {
        join.error = found.status();
      }
    } else if (found->has_value() && (!join.oldest || (*found)->time_ns < join.oldest->time_ns)) {
      join.oldest = **found;
    }
    if (--join.remaining > 0) return;
    finish = std::move(join.done);
    error = join.error;
    age.requests = join.requests;
    if (join.oldest) {
      age.oldest_seq = join.oldest->seq;
      int64_t stored = join.oldest->time_ns;
      // A consumer that starts by time never delivers older messages; before
      // its first ack the floor may sit before its start.
      if (start_ns) stored = std::max(stored, *start_ns);
      age.age_ms = core::AgeMillis(now_ns, stored);
    }
  }
  if (error) {
    finish(*error);
  } else {
    finish(age);
  }
}

}  // namespace

OldestMessageAgeReader::OldestMessageAgeReader(const JetStreamConnections& connections,
                                               std::function<int64_t()> unix_now_ns)
    : connections_(connections),
      unix_now_ns_(unix_now_ns ? std::move(unix_now_ns) : std::function<int64_t()>(SystemNowNs)) {}

void OldestMessageAgeReader::ReadConsumerAndAge(const core::ConsumerKey& key,
                                                core::SteadyTime deadline,
                                                ConsumerAgeCallback done) {
  const JetStreamEndpoint* endpoint = connections_.Find(key.connection);
  if (endpoint == nullptr) {
    done(core::InternalError(fmt::format("no NATS connection named \"{}\"", key.connection)));
    return;
  }
  endpoint->connection->Request(
      endpoint->api.ConsumerInfo(key.stream, key.consumer), deadline,
      [this, key, deadline, done = std::move(done)](const core::StatusOr<std::string>& reply) {
        if (!reply.ok()) {
          done(reply.status());
          return;
        }
        auto position = core::DecodeConsumerPosition(*reply, key.stream, key.consumer);
        if (!position.ok()) {
          done(position.status());
          return;
        }
        ReadAge(key, *position, deadline,
                [position = *position, done](const AgeResult& age) {
                  if (!age.ok()) {
                    done(age.status());
                    return;
                  }
                  done(ConsumerAge{position, *age});
                });
      });
}

void OldestMessageAgeReader::ReadAge(const core::ConsumerKey& key,
                                     const core::ConsumerPosition& position,
                                     core::SteadyTime deadline, AgeCallback done) {
  // Checked first so that the answer does not flip with the backlog.
  if (position.filter_subjects.size() > core::kMaxAgeFilterSubjects) {
    done(core::InvalidArgumentError(fmt::format(
        "consumer \"{}\" on stream \"{}\" has {} filter subjects; the age of its oldest message "
        "is read for at most {} (one request each): scale it on lag instead",
        core::Truncate(key.consumer, 255), core::Truncate(key.stream, 255),
        position.filter_subjects.size(), core::kMaxAgeFilterSubjects)));
    return;
  }
  // Nothing pending, nothing ack-pending: no unacknowledged message exists,
  // and asking for one would only cost a request per subject.
  if (position.lag.Total() == 0) {
    done(MessageAge{});
    return;
  }
  const JetStreamEndpoint* endpoint = connections_.Find(key.connection);
  if (endpoint == nullptr) {
    done(core::InternalError(fmt::format("no NATS connection named \"{}\"", key.connection)));
    return;
  }
  std::vector<std::string> subjects = position.filter_subjects;
  if (subjects.empty()) subjects.push_back(">");  // the whole stream
  const uint64_t first = position.FirstUnackedCandidate();
  // The server's clock as of the CONSUMER.INFO reply (2.10+), the one that
  // stamped the messages (one server; in a cluster, its peers' NTP skew);
  // the scaler's own clock only for a 2.9 server, whose reply has no `ts`.
  const int64_t now_ns = position.server_time_ns ? *position.server_time_ns : unix_now_ns_();
  const std::optional<int64_t> start_ns = position.StartTimeNs();

  ResolveDirect(
      *endpoint, key, deadline,
      [this, endpoint, key, subjects = std::move(subjects), first, now_ns, start_ns, deadline,
       done = std::move(done)](const core::StatusOr<bool>& direct, int config_requests) mutable {
        if (!direct.ok()) {
          done(direct.status());
          return;
        }
        auto join = std::make_shared<Join>();
        join->remaining = static_cast<int>(subjects.size());
        join->requests = config_requests;
        join->done = std::move(done);
        for (const std::string& subject : subjects) {
          GetFirstAfter(*endpoint, key, subject, first, *direct, deadline,
                        [join, now_ns, start_ns](const Found& found, int requests) {
                          Settle(*join, found, requests, now_ns, start_ns);
                        });
        }
      });
}

void OldestMessageAgeReader::ResolveDirect(
    const JetStreamEndpoint& endpoint, const core::ConsumerKey& key, core::SteadyTime deadline,
    std::function<void(const core::StatusOr<bool>&, int)> done) {
  const std::string stream_key = key.connection + '\n' + key.stream;
  if (auto known = KnownDirect(stream_key)) {
    done(*known, 0);
    return;
  }
  endpoint.connection->Request(
      endpoint.api.StreamInfo(key.stream), deadline,
      [this, stream = key.stream, stream_key,
       done = std::move(done)](const core::StatusOr<std::string>& reply) {
        if (!reply.ok()) {
          done(reply.status(), 1);
          return;
        }
        auto direct = core::DecodeStreamAllowDirect(*reply, stream);
        if (direct.ok()) NoteDirect(stream_key, *direct);
        done(direct, 1);
      });
}

void OldestMessageAgeReader::GetFirstAfter(const JetStreamEndpoint& endpoint,
                                           const core::ConsumerKey& key,
                                           const std::string& subject, uint64_t seq, bool direct,
                                           core::SteadyTime deadline,
                                           std::function<void(const Found&, int)> done) {
  std::string body = fmt::format(R"({{"seq":{},"next_by_subj":{}}})", seq, JsonString(subject));
  if (!direct) {
    MsgGet(endpoint, key.stream, body, deadline,
           [done = std::move(done)](const Found& found) { done(found, 1); });
    return;
  }
  const std::string stream_key = key.connection + '\n' + key.stream;
  const JetStreamEndpoint* ep = &endpoint;
  endpoint.connection->RequestHeaders(
      fmt::format("{}.DIRECT.GET.{}", endpoint.api.prefix(), key.stream), body, deadline,
      [this, ep, stream = key.stream, stream_key, body, deadline,
       done = std::move(done)](const core::StatusOr<std::string>& reply) mutable {
        if (!reply.ok()) {
          // Older servers never answer a direct get to a stream that stopped
          // allowing it (or is gone): read its config again next time.
          Forget(stream_key);
          done(reply.status(), 1);
          return;
        }
        if (!core::IsNoResponders(*reply)) {
          done(core::DecodeDirectGetHeaders(*reply, stream), 1);
          return;
        }
        // 2.11+: no responders once allow_direct is off, or the stream is
        // gone; STREAM.MSG.GET answers both (10059 for a missing stream).
        NoteDirect(stream_key, false);
        MsgGet(*ep, stream, body, deadline,
               [done = std::move(done)](const Found& found) { done(found, 2); });
      });
}

void OldestMessageAgeReader::MsgGet(const JetStreamEndpoint& endpoint, const std::string& stream,
                                    const std::string& body, core::SteadyTime deadline,
                                    std::function<void(const Found&)> done) {
  endpoint.connection->Request(
      fmt::format("{}.STREAM.MSG.GET.{}", endpoint.api.prefix(), stream), body, deadline,
      [stream, done = std::move(done)](const core::StatusOr<std::string>& reply) {
        if (!reply.ok()) {
          if (reply.status().code() == core::StatusCode::kUnavailable &&
              reply.status().message().find("exceeds the") != std::string::npos) {
            // STREAM.MSG.GET carries the payload; only direct get can skip it.
            done(core::UnavailableError(fmt::format(
                "{}: the oldest message of stream \"{}\" is too large to read its timestamp with "
                "STREAM.MSG.GET; set allow_direct on the stream (direct get reads headers only)",
                reply.status().message(), core::Truncate(stream, 255))));
            return;
          }
          done(reply.status());
          return;
        }
        done(core::DecodeMessageGetResponse(*reply, stream));
      });
}

std::optional<bool> OldestMessageAgeReader::KnownDirect(const std::string& stream_key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = streams_.find(stream_key);
  if (it == streams_.end()) return std::nullopt;
  if (std::chrono::steady_clock::now() - it->second.read_at < kStreamConfigTtl) {
    return it->second.direct;
  }
  streams_.erase(it);
  return std::nullopt;
}

void OldestMessageAgeReader::NoteDirect(const std::string& stream_key, bool direct) {
  std::lock_guard<std::mutex> lock(mu_);
  if (streams_.size() >= kMaxStreamsTracked && streams_.count(stream_key) == 0) {
    // Bounded: forget everything rather than scan for the oldest entry.
    streams_.clear();
  }
  streams_[stream_key] = StreamConfig{direct, std::chrono::steady_clock::now()};
}

void OldestMessageAgeReader::Forget(const std::string& stream_key) {
  std::lock_guard<std::mutex> lock(mu_);
  streams_.erase(stream_key);
}

}  // namespace jss::nats
