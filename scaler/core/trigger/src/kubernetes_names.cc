#include "jss/core/trigger/kubernetes_names.h"

#include <fmt/format.h>

#include "jss/core/base/strings.h"

namespace jss::core {
namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// One label without the length limit (a subdomain's labels only share its 253).
bool IsLabelShaped(std::string_view text) {
  if (text.empty() || !IsLowerAlnum(text.front()) || !IsLowerAlnum(text.back())) return false;
  for (char c : text) {
    if (!IsLowerAlnum(c) && c != '-') return false;
  }
  return true;
}

}  // namespace

bool IsDns1123Label(std::string_view text) {
  return text.size() <= kMaxKubernetesNamespace && IsLabelShaped(text);
}

bool IsDns1123Subdomain(std::string_view text) {
  if (text.empty() || text.size() > kMaxKubernetesName) return false;
  size_t start = 0;
  while (true) {
    const size_t dot = text.find('.', start);
    const std::string_view label =
        text.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (!IsLabelShaped(label)) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// The limits are spelt out in the messages (docs/troubleshooting.md quotes them).
static_assert(kMaxKubernetesNamespace == 63 && kMaxKubernetesName == 253);

Status ValidateScaledObjectRef(std::string_view ns, std::string_view name) {
  // Messages go back to the caller and into the rpc log line: the value is
  // escaped and cut to a few dozen bytes, so a forged one sets neither's size.
  if (!IsDns1123Label(ns)) {
    return InvalidArgumentError(fmt::format(
        "ScaledObjectRef.namespace \"{}\" is not a Kubernetes namespace: 1-63 bytes of lowercase "
        "letters, digits and '-', starting and ending with a letter or digit (a DNS-1123 label)",
        Preview(ns)));
  }
  if (!IsDns1123Subdomain(name)) {
    return InvalidArgumentError(fmt::format(
        "ScaledObjectRef.name \"{}\" is not a Kubernetes object name: 1-253 bytes of lowercase "
        "letters, digits, '-' and '.', each '.'-separated part starting and ending with a letter "
        "or digit (a DNS-1123 subdomain)",
        Preview(name)));
  }
  return OkStatus();
}

}  // namespace jss::core
