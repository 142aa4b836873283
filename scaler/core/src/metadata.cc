#include "jss/core/metadata.h"

#include <limits>

#include "jss/core/defaults.h"
#include "jss/core/duration.h"
#include "jss/core/status.h"
#include "jss/core/strings.h"

namespace jss::core {
namespace {

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

core::Status Invalid(std::string_view key, std::string_view value,
                     std::string_view why) {
  return core::InvalidArgumentError(core::StrCat(
      "trigger metadata \"", key, "\"=\"", value, "\" is invalid: ", why));
}

// JetStream names become subject tokens in $JS.API.CONSUMER.INFO.<s>.<c>, so
// anything that would change the subject's shape is refused rather than sent.
core::Status ValidateName(std::string_view key, std::string_view value) {
  if (value.empty()) {
    return core::InvalidArgumentError(core::StrCat(
        "trigger metadata \"", key, "\" is empty: set it to the JetStream ",
        key, " name"));
  }
  if (value.size() > kMaxNameLength) {
    return Invalid(key, value.substr(0, 32), StrCat("longer than ", kMaxNameLength, " bytes"));
  }
  for (char c : value) {
    const auto uc = static_cast<unsigned char>(c);
    if (c == '.' || c == '*' || c == '>' || c == '/' || c == '\\' || uc <= 0x20 ||
        uc == 0x7f) {
      return Invalid(key, value,
                     "a JetStream name may not contain '.', '*', '>', '/', '\\', "
                     "whitespace or control characters");
    }
  }
  return core::OkStatus();
}

core::StatusOr<int64_t> ParseInt64(const MetadataField& field, std::string_view value) {
  if (value.empty()) return Invalid(field.key, value, "empty; expected an integer");
  size_t i = 0;
  bool negative = false;
  if (value[0] == '+' || value[0] == '-') {
    negative = value[0] == '-';
    i = 1;
  }
  if (i == value.size()) return Invalid(field.key, value, "expected an integer");
  // Accumulate as a negative number so INT64_MIN parses without overflow.
  int64_t acc = 0;
  for (; i < value.size(); ++i) {
    const char c = value[i];
    if (c < '0' || c > '9') {
      return Invalid(field.key, value,
                     core::StrCat("expected a whole number, found '",
                                  std::string_view(&value[i], 1), "'"));
    }
    const int digit = c - '0';
    if (acc < (std::numeric_limits<int64_t>::min() + digit) / 10) {
      return Invalid(field.key, value, "out of the 64-bit integer range");
    }
    acc = acc * 10 - digit;
  }
  if (!negative && acc == std::numeric_limits<int64_t>::min()) {
    return Invalid(field.key, value, "out of the 64-bit integer range");
  }
  const int64_t result = negative ? acc : -acc;
  if (result < field.min || result > field.max) {
    std::string range = field.max == kInt64Max
                            ? core::StrCat("an integer >= ", field.min)
                            : core::StrCat("an integer in [", field.min, ", ", field.max, "]");
    return Invalid(field.key, value, core::StrCat("expected ", range));
  }
  return result;
}

core::StatusOr<std::chrono::milliseconds> ParseBoundedDuration(
    const MetadataField& field, std::string_view value) {
  auto parsed = ParseDuration(value);
  if (!parsed.ok()) {
    return Invalid(field.key, value, "expected a duration such as 250ms or 1s");
  }
  if (parsed->count() < field.min || parsed->count() > field.max) {
    return Invalid(field.key, value,
                   core::StrCat("expected a duration between ",
                                FormatDuration(std::chrono::milliseconds(field.min)), " and ",
                                FormatDuration(std::chrono::milliseconds(field.max))));
  }
  return *parsed;
}

}  // namespace

const std::vector<MetadataField>& MetadataFields() {
  static const std::vector<MetadataField> kFields = {
      {"stream", MetadataKind::kName, true, "", 0, 0, "JetStream stream name"},
      {"consumer", MetadataKind::kName, true, "", 0, 0,
       "durable consumer name on that stream"},
      {"lagThreshold", MetadataKind::kInt64, false, "10", 1, kInt64Max,
       "target lag per replica (HPA target value)"},
      {"activationLagThreshold", MetadataKind::kInt64, false, "0", 0, kInt64Max,
       "the workload is active while lag is above this"},
      {"account", MetadataKind::kText, false, "", 0, 0,
       "selects a named connection (--nats-url NAME=URL); ignored with only the "
       "default connection"},
      {"natsUrl", MetadataKind::kText, false, "", 0, 0,
       "must equal a NATS URL the scaler was started with; selects that connection"},
      {"pushInterval", MetadataKind::kDuration, false, "", kPushIntervalRange.min.count(),
       kPushIntervalRange.max.count(), "external-push: how often a watched consumer is re-read"},
      {"natsServerMonitoringEndpoint", MetadataKind::kIgnored, false, "", 0, 0,
       "built-in scaler only (HTTP monitoring); ignored"},
      {"useHttps", MetadataKind::kIgnored, false, "", 0, 0,
       "built-in scaler only (HTTP monitoring); ignored"},
      {"accountID", MetadataKind::kIgnored, false, "", 0, 0,
       "built-in scaler only (HTTP monitoring); ignored"},
  };
  return kFields;
}

core::StatusOr<TriggerMetadata> ParseTriggerMetadata(const MetadataLookup& lookup) {
  TriggerMetadata out;
  for (const MetadataField& field : MetadataFields()) {
    std::optional<std::string_view> value = lookup(field.key);
    if (!value.has_value()) {
      if (field.required) {
        return core::InvalidArgumentError(core::StrCat(
            "trigger metadata \"", field.key, "\" is required (", field.meaning, ")"));
      }
      if (field.default_value.empty()) continue;
      value = field.default_value;
    }
    switch (field.kind) {
      case MetadataKind::kName: {
        if (core::Status s = ValidateName(field.key, *value); !s.ok()) return s;
        (field.key == "stream" ? out.stream : out.consumer) = std::string(*value);
        break;
      }
      case MetadataKind::kInt64: {
        auto parsed = ParseInt64(field, *value);
        if (!parsed.ok()) return parsed.status();
        (field.key == "lagThreshold" ? out.lag_threshold : out.activation_lag_threshold) =
            *parsed;
        break;
      }
      case MetadataKind::kText: {
        if (value->empty()) {
          return core::InvalidArgumentError(core::StrCat(
              "trigger metadata \"", field.key, "\" is empty: remove it or set it (",
              field.meaning, ")"));
        }
        (field.key == "account" ? out.account : out.nats_url) = std::string(*value);
        break;
      }
      case MetadataKind::kDuration: {
        auto parsed = ParseBoundedDuration(field, *value);
        if (!parsed.ok()) return parsed.status();
        out.push_interval = *parsed;
        break;
      }
      case MetadataKind::kIgnored:
        out.ignored_builtin_keys.emplace_back(field.key);
        break;
    }
  }
  return out;
}

}  // namespace jss::core
