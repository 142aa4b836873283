#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "jss/core/base/status.h"
#include "jss/core/trigger/consumer_key.h"

namespace jss::core {

// Shell-style match: '*' is any run of characters, '?' one character.
bool GlobMatch(std::string_view pattern, std::string_view text);

// Which Kubernetes namespaces may read which consumers. A query is allowed
// when some rule matches its namespace (ScaledObjectRef.namespace), the
// connection it selected, its stream and its consumer. Without a policy file
// the scaler allows everything (see docs/security.md).
//
// Policy file (JSON):
//   {"rules": [
//     {"namespaces": ["shop", "team-*"],   // required
//      "connections": ["default"],          // optional, default ["*"]
//      "streams": ["ORDERS", "ORDERS_*"],   // optional, default ["*"]
//      "consumers": ["*"]}                  // optional, default ["*"]
//   ]}
class AccessPolicy {
 public:
  struct Rule {
    std::vector<std::string> namespaces;
    std::vector<std::string> connections;
    std::vector<std::string> streams;
    std::vector<std::string> consumers;
  };

  static AccessPolicy AllowAll();
  // `source` names the file in Parse's errors (for the operator), never in
  // the denials callers get.
  static StatusOr<AccessPolicy> Parse(std::string_view json, std::string_view source);

  // OK when some rule names `ns` (or there is no policy), else the one
  // PERMISSION_DENIED a denied namespace ever gets: asked before the trigger
  // is parsed or a connection selected, so it learns nothing of either
  // (connection names, which natsUrl values exist) whatever it sends.
  Status CheckNamespace(std::string_view ns) const;
  // OK, or PERMISSION_DENIED naming the namespace and what it asked for (its
  // namespace has some rule, so those names are its own business). Neither
  // message names the policy file: tenants see them (docs/security.md).
  Status Check(std::string_view ns, const ConsumerKey& key) const;

  bool allows_all() const { return allow_all_; }
  size_t rule_count() const { return rules_.size(); }

 private:
  bool allow_all_ = false;
  std::vector<Rule> rules_;
};

// The policy in force; replaced whole when its file changes, so a check
// always sees one consistent version.
class PolicyHolder {
 public:
  explicit PolicyHolder(AccessPolicy initial)
      : current_(std::make_shared<const AccessPolicy>(std::move(initial))) {}
  std::shared_ptr<const AccessPolicy> Current() const {
    std::lock_guard<std::mutex> lock(mu_);
    return current_;
  }
  void Replace(AccessPolicy next) {
    auto p = std::make_shared<const AccessPolicy>(std::move(next));
    std::lock_guard<std::mutex> lock(mu_);
    current_ = std::move(p);
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const AccessPolicy> current_;
};

}  // namespace jss::core
