// Fuzzes trigger-metadata parsing and connection selection: input is a list
// of NUL-separated key, value pairs, exactly what KEDA can send us.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>

#include "jss/core/policy/connection_selector.h"
#include "jss/core/trigger/metadata.h"
#include "jss/core/trigger/metric_name.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::map<std::string, std::string> md;
  std::string text(reinterpret_cast<const char*>(data), size);
  size_t pos = 0;
  while (pos < text.size()) {
    size_t key_end = text.find('\0', pos);
    if (key_end == std::string::npos) key_end = text.size();
    size_t value_end = key_end < text.size() ? text.find('\0', key_end + 1) : text.size();
    if (value_end == std::string::npos) value_end = text.size();
    const std::string key = text.substr(pos, key_end - pos);
    const std::string value =
        key_end < text.size() ? text.substr(key_end + 1, value_end - key_end - 1) : "";
    md[key] = value;
    pos = value_end + 1;
  }
  auto parsed = jss::core::ParseTriggerMetadata(
      [&md](std::string_view key) -> std::optional<std::string_view> {
        auto it = md.find(std::string(key));
        if (it == md.end()) return std::nullopt;
        return std::string_view(it->second);
      });
  if (!parsed.ok()) {
    // Every rejection is INVALID_ARGUMENT with a message.
    if (parsed.status().code() != jss::core::StatusCode::kInvalidArgument) std::abort();
    if (parsed.status().message().empty()) std::abort();
    return 0;
  }
  // Invariants of an accepted trigger.
  if (parsed->stream.empty() || parsed->consumer.empty()) std::abort();
  if (parsed->lag_threshold < 1 || parsed->activation_lag_threshold < 0) std::abort();
  for (char c : parsed->stream + parsed->consumer) {
    if (c == '.' || c == '*' || c == '>' || c == ' ') std::abort();
  }
  (void)jss::core::MetricNameForStream(parsed->stream);
  jss::core::ConnectionSelector selector(
      {{"default", {"nats://a:4222"}, false}, {"b", {"nats://b:4222"}, true}});
  auto selected = selector.Select(*parsed);
  if (!selected.ok() && selected.status().code() != jss::core::StatusCode::kInvalidArgument) {
    std::abort();
  }
  return 0;
}
