#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "jss/core/policy/access_policy.h"
#include "jss/core/policy/resolve_trigger.h"

namespace jss::core {

// Admitted triggers by request. KEDA polls every ScaledObject with the same
// metadata every few seconds; resolving it (parse, validate, select the
// connection, check the policy) cost more than the rest of a cached call.
// An entry is the result of ResolveTrigger for one exact request, so a hit
// answers what a fresh resolution would:
//  - the key is the request's exact bytes (see AdmissionKey): any change of
//    namespace, name or metadata is another key;
//  - entries hold only successes, and only under the policy they were
//    resolved with: a new policy (a reload) empties the cache first;
//  - the connection selector is fixed for the life of the process.
// Bounded for a hostile caller: keys over `max_key_bytes` are not stored, and
// the cache empties itself when it reaches `max_entries` (a caller cycling
// through distinct requests only costs everyone the resolution again).
class AdmissionCache {
 public:
  struct Options {
    size_t max_entries = 16384;
    size_t max_key_bytes = 1024;
  };
  AdmissionCache() : AdmissionCache(Options{}) {}
  explicit AdmissionCache(Options options) : options_(options) {}

  // The entry for `key` resolved under `policy`, or null.
  std::shared_ptr<const ResolvedTrigger> Find(const std::string& key,
                                              const std::shared_ptr<const AccessPolicy>& policy);
  // Stores `value` (a success of ResolveTrigger under `policy`) for `key`.
  void Insert(std::string key, const std::shared_ptr<const AccessPolicy>& policy,
              std::shared_ptr<const ResolvedTrigger> value);

  size_t size() const;
  const Options& options() const { return options_; }

 private:
  // Caller holds mu_. Empties the cache when `policy` is not the one its
  // entries were resolved under.
  void AdoptPolicyLocked(const std::shared_ptr<const AccessPolicy>& policy);

  const Options options_;
  mutable std::mutex mu_;
  // Held, not only compared: the address cannot be reused by a later policy
  // while entries resolved under this one exist.
  std::shared_ptr<const AccessPolicy> policy_;
  std::unordered_map<std::string, std::shared_ptr<const ResolvedTrigger>> entries_;
};

// Builds the key of one request: which RPC kind asks, the namespace, the
// name, and every metadata entry sorted by key, each length-prefixed (so no
// two different requests share bytes). `for_each` calls its argument with
// (key, value) for every metadata entry, in any order. Returns "" (do not
// cache) when there are more than `max_entries` entries or the key would be
// longer than `max_bytes`.
class AdmissionKeyBuilder {
 public:
  static constexpr size_t kMaxEntries = 32;
  void Add(std::string_view key, std::string_view value);
  // "" when the request is not worth caching (too many entries or bytes).
  std::string Build(TriggerUse use, std::string_view ns, std::string_view name,
                    size_t max_bytes);

 private:
  struct Entry {
    std::string_view key;
    std::string_view value;
  };
  Entry entries_[kMaxEntries];
  size_t count_ = 0;
  bool overflow_ = false;
};

}  // namespace jss::core
