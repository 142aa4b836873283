#pragma once

#include <string_view>

#include "jss/core/base/status.h"

namespace jss::core {

// Longest Kubernetes namespace (a DNS-1123 label) and object name (a DNS-1123
// subdomain), as the API server enforces them.
inline constexpr size_t kMaxKubernetesNamespace = 63;
inline constexpr size_t kMaxKubernetesName = 253;

// [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 bytes: what a namespace may be.
bool IsDns1123Label(std::string_view text);
// Such labels joined by '.', at most 253 bytes in all: what the API server
// accepts as the name of a ScaledObject or ScaledJob (custom resources).
bool IsDns1123Subdomain(std::string_view text);

// The ScaledObjectRef's namespace and name, which KEDA copies from the
// ScaledObject's (or ScaledJob's) metadata, so they are always valid when KEDA
// calls. Anyone else may send anything: refused here (INVALID_ARGUMENT naming
// the field and the rule, the value escaped and cut short) before the access
// policy, a metric or a log line sees them.
Status ValidateScaledObjectRef(std::string_view ns, std::string_view name);

}  // namespace jss::core
