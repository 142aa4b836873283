#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "jss/core/lag_source.h"
#include "jss/core/status.h"

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
  // `source` names the file in error messages.
  static StatusOr<AccessPolicy> Parse(std::string_view json, std::string_view source);

  // OK, or PERMISSION_DENIED naming the namespace and what it asked for.
  Status Check(std::string_view ns, const ConsumerKey& key) const;

  bool allows_all() const { return allow_all_; }
  size_t rule_count() const { return rules_.size(); }

 private:
  bool allow_all_ = false;
  std::vector<Rule> rules_;
  std::string source_;
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
