#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "jss/core/lag/lag_source.h"

namespace jss::core {

// Hooks the adapters call so that metrics (another adapter) stay out of their
// code. All methods may be called concurrently from any thread.
class NatsObserver {
 public:
  virtual ~NatsObserver() = default;
  virtual void OnConnectionState(std::string_view connection, bool connected) = 0;
  virtual void OnReconnect(std::string_view connection) = 0;
  virtual void OnRequestSent(std::string_view connection) = 0;
  // `reason` is a short stable token: ok, timeout, not_found, no_responders,
  // disconnected, overloaded, other.
  virtual void OnRequestDone(std::string_view connection, std::string_view reason,
                             double seconds) = 0;
  // The JetStream API level the server reported at the last (re)connect
  // ($JS.API.INFO `api.level`, 2.11+); 0 when it reported none (2.10 and
  // older) or refused to say (no permission, JetStream off).
  virtual void OnApiLevel(std::string_view connection, int64_t level) {
    (void)connection;
    (void)level;
  }
};

class LagObserver {
 public:
  virtual ~LagObserver() = default;
  virtual void OnLagRead(const ConsumerKey& key, const LagResult& result) = 0;
  virtual void OnCacheHit() = 0;
  virtual void OnCacheSize(size_t entries) = 0;
};

class RpcObserver {
 public:
  virtual ~RpcObserver() = default;
  virtual void OnRpcDone(std::string_view method, core::StatusCode code, double seconds) = 0;
  // A query refused by the access policy (PERMISSION_DENIED).
  virtual void OnPolicyDenied(std::string_view ns) = 0;
};

// For wiring that does not care (tests, benchmarks).
class NullObserver final : public NatsObserver, public LagObserver, public RpcObserver {
 public:
  void OnConnectionState(std::string_view, bool) override {}
  void OnReconnect(std::string_view) override {}
  void OnRequestSent(std::string_view) override {}
  void OnRequestDone(std::string_view, std::string_view, double) override {}
  void OnLagRead(const ConsumerKey&, const LagResult&) override {}
  void OnCacheHit() override {}
  void OnCacheSize(size_t) override {}
  void OnRpcDone(std::string_view, core::StatusCode, double) override {}
  void OnPolicyDenied(std::string_view) override {}
};

}  // namespace jss::core
