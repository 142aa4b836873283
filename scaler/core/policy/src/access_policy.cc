#include "jss/core/policy/access_policy.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "jss/core/base/strings.h"

namespace jss::core {

bool GlobMatch(std::string_view pattern, std::string_view text) {
  // Iterative matcher with one backtrack point: linear in practice and no
  // recursion for hostile patterns.
  size_t p = 0;
  size_t t = 0;
  size_t star = std::string_view::npos;
  size_t star_t = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_t = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++star_t;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

namespace {

bool AnyMatch(const std::vector<std::string>& patterns, std::string_view text) {
  for (const auto& p : patterns) {
    if (GlobMatch(p, text)) return true;
  }
  return false;
}

Status Bad(std::string_view source, std::string_view where, std::string_view why) {
  return InvalidArgumentError(fmt::format("policy file \"{}\": {}: {}", source, where, why));
}

StatusOr<std::vector<std::string>> Patterns(const nlohmann::json& rule, const char* field,
                                            bool required, std::string_view source,
                                            std::string_view where) {
  auto it = rule.find(field);
  if (it == rule.end()) {
    if (required) {
      return Bad(source, where,
                 fmt::format("\"{}\" is required (a list of names or patterns)", field));
    }
    return std::vector<std::string>{"*"};
  }
  if (!it->is_array() || it->empty()) {
    return Bad(source, where, fmt::format("\"{}\" must be a non-empty list of strings", field));
  }
  std::vector<std::string> out;
  for (const auto& v : *it) {
    if (!v.is_string() || v.get<std::string>().empty()) {
      return Bad(source, where, fmt::format("\"{}\" entries must be non-empty strings", field));
    }
    out.push_back(v.get<std::string>());
  }
  return out;
}

}  // namespace

AccessPolicy AccessPolicy::AllowAll() {
  AccessPolicy p;
  p.allow_all_ = true;
  return p;
}

StatusOr<AccessPolicy> AccessPolicy::Parse(std::string_view json, std::string_view source) {
  auto doc = nlohmann::json::parse(json.begin(), json.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Bad(source, "top level", "not a JSON object like {\"rules\": [...]}");
  }
  for (const auto& [key, value] : doc.items()) {
    if (key != "rules") return Bad(source, "top level", fmt::format("unknown key \"{}\"", key));
  }
  auto rules = doc.find("rules");
  if (rules == doc.end() || !rules->is_array()) {
    return Bad(source, "top level", "\"rules\" must be a list (an empty list denies everything)");
  }
  AccessPolicy policy;
  for (size_t i = 0; i < rules->size(); ++i) {
    const auto& r = (*rules)[i];
    const std::string where = fmt::format("rules[{}]", i);
    if (!r.is_object()) return Bad(source, where, "must be an object");
    for (const auto& [key, value] : r.items()) {
      if (key != "namespaces" && key != "connections" && key != "streams" && key != "consumers") {
        return Bad(
            source, where,
            fmt::format("unknown key \"{}\" (expected namespaces, connections, streams, consumers)",
                        key));
      }
    }
    Rule rule;
    auto ns = Patterns(r, "namespaces", true, source, where);
    if (!ns.ok()) return ns.status();
    auto conns = Patterns(r, "connections", false, source, where);
    if (!conns.ok()) return conns.status();
    auto streams = Patterns(r, "streams", false, source, where);
    if (!streams.ok()) return streams.status();
    auto consumers = Patterns(r, "consumers", false, source, where);
    if (!consumers.ok()) return consumers.status();
    rule.namespaces = std::move(*ns);
    rule.connections = std::move(*conns);
    rule.streams = std::move(*streams);
    rule.consumers = std::move(*consumers);
    policy.rules_.push_back(std::move(rule));
  }
  return policy;
}

Status AccessPolicy::CheckNamespace(std::string_view ns) const {
  if (allow_all_) return OkStatus();
  for (const auto& rule : rules_) {
    if (AnyMatch(rule.namespaces, ns)) return OkStatus();
  }
  return PermissionDeniedError(fmt::format(
      "namespace \"{}\" may not use this scaler: its access policy has no rule for it; ask the "
      "scaler's operator for one",
      Preview(ns, 63)));
}

Status AccessPolicy::Check(std::string_view ns, const ConsumerKey& key) const {
  if (allow_all_) return OkStatus();
  for (const auto& rule : rules_) {
    if (AnyMatch(rule.namespaces, ns) && AnyMatch(rule.connections, key.connection) &&
        AnyMatch(rule.streams, key.stream) && AnyMatch(rule.consumers, key.consumer)) {
      return OkStatus();
    }
  }
  return PermissionDeniedError(
      fmt::format("namespace \"{}\" may not read consumer \"{}\" of stream \"{}\" on connection "
                  "\"{}\": no rule of the scaler's access policy allows it",
                  Preview(ns, 63), key.consumer, key.stream, key.connection));
}

}  // namespace jss::core
