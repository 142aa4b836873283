#include "jss/core/trigger/metadata.h"

#include <charconv>
#include <limits>

#include <fmt/format.h>

#include "jss/core/base/status.h"
#include "jss/core/base/strings.h"
#include "jss/core/trigger/defaults.h"
#include "jss/core/trigger/duration.h"

namespace jss::core {
namespace {

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

core::Status Invalid(std::string_view key, std::string_view value,
                     std::string_view why) {
  // The value comes from a tenant: echoed cut short, so its size cannot set
  // the size of the reply to KEDA or of a log line.
  return core::InvalidArgumentError(fmt::format("trigger metadata \"{}\"=\"{}\" is invalid: {}",
                                                key, core::Truncate(value), why));
}

// JetStream names become subject tokens in $JS.API.CONSUMER.INFO.<s>.<c>, so
// anything that would change the subject's shape is refused rather than sent.
core::Status ValidateName(std::string_view key, std::string_view value) {
  if (value.empty()) {
    return core::InvalidArgumentError(
        fmt::format("trigger metadata \"{}\" is empty: set it to the JetStream {} name", key, key));
  }
  if (value.size() > kMaxNameLength) {
    return Invalid(key, value, fmt::format("longer than {} bytes", kMaxNameLength));
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
  // from_chars takes a '-' but not a '+'; KEDA's built-in scaler (Go) takes both.
  std::string_view digits = value[0] == '+' ? value.substr(1) : value;
  if (digits.empty() || digits == "-") return Invalid(field.key, value, "expected an integer");
  if (digits.size() < value.size() && digits[0] == '-') {
    return Invalid(field.key, value, "expected a whole number, found '-'");
  }
  int64_t result = 0;
  const char* end = digits.data() + digits.size();
  const auto [ptr, ec] = std::from_chars(digits.data(), end, result);
  if (ec == std::errc::result_out_of_range) {
    return Invalid(field.key, value, "out of the 64-bit integer range");
  }
  if (ec != std::errc() || ptr != end) {
    const char* bad = ec != std::errc() ? digits.data() + (digits[0] == '-') : ptr;
    return Invalid(field.key, value,
                   fmt::format("expected a whole number, found '{}'", std::string_view(bad, 1)));
  }
  if (result < field.min || result > field.max) {
    std::string range = field.max == kInt64Max
                            ? fmt::format("an integer >= {}", field.min)
                            : fmt::format("an integer in [{}, {}]", field.min, field.max);
    return Invalid(field.key, value, fmt::format("expected {}", range));
  }
  return result;
}

// Setters, one per kind of value, bound to their TriggerMetadata member.
template <std::string TriggerMetadata::*Member>
core::Status SetName(const MetadataField& field, std::string_view value, TriggerMetadata& out) {
  if (core::Status s = ValidateName(field.key, value); !s.ok()) return s;
  out.*Member = std::string(value);
  return core::OkStatus();
}

template <int64_t TriggerMetadata::*Member>
core::Status SetInt64(const MetadataField& field, std::string_view value, TriggerMetadata& out) {
  auto parsed = ParseInt64(field, value);
  if (!parsed.ok()) return parsed.status();
  out.*Member = *parsed;
  return core::OkStatus();
}

template <std::optional<std::string> TriggerMetadata::*Member>
core::Status SetText(const MetadataField& field, std::string_view value, TriggerMetadata& out) {
  if (value.empty()) {
    return core::InvalidArgumentError(fmt::format(
        "trigger metadata \"{}\" is empty: remove it or set it ({})", field.key, field.meaning));
  }
  out.*Member = std::string(value);
  return core::OkStatus();
}

template <std::optional<std::chrono::milliseconds> TriggerMetadata::*Member>
core::Status SetDuration(const MetadataField& field, std::string_view value,
                         TriggerMetadata& out) {
  auto parsed = ParseDuration(value);
  if (!parsed.ok()) {
    return Invalid(field.key, value, "expected a duration such as 250ms or 1s");
  }
  if (parsed->count() < field.min || parsed->count() > field.max) {
    return Invalid(field.key, value,
                   fmt::format("expected a duration between {} and {}",
                               FormatDuration(std::chrono::milliseconds(field.min)),
                               FormatDuration(std::chrono::milliseconds(field.max))));
  }
  out.*Member = *parsed;
  return core::OkStatus();
}

// An age as the age keys take it: a Go duration ("30s", "2m", "1m30s",
// "500ms") or plain seconds ("30", "2.5": at most millisecond precision).
core::StatusOr<std::chrono::milliseconds> ParseAge(std::string_view value) {
  if (!value.empty() && value.find_first_not_of("0123456789.") == std::string_view::npos) {
    const size_t dot = value.find('.');
    const std::string_view whole = value.substr(0, dot);
    const std::string_view fraction =
        dot == std::string_view::npos ? std::string_view() : value.substr(dot + 1);
    if (whole.empty() || whole.size() > 12 || fraction.size() > 3 ||
        fraction.find('.') != std::string_view::npos ||
        (dot != std::string_view::npos && fraction.empty())) {
      return core::InvalidArgumentError("bad number");
    }
    int64_t seconds = 0;
    std::from_chars(whole.data(), whole.data() + whole.size(), seconds);
    int64_t millis = 0;
    for (size_t i = 0; i < 3; ++i) millis = millis * 10 + (i < fraction.size() ? fraction[i] - '0' : 0);
    return std::chrono::milliseconds(seconds * 1000 + millis);
  }
  return ParseDuration(value);
}

template <typename Target>
core::Status SetAgeValue(const MetadataField& field, std::string_view value, Target& target) {
  auto parsed = ParseAge(value);
  const std::string forms = "a Go duration such as 30s, 2m or 1m30s, or plain seconds such as 30";
  if (!parsed.ok()) return Invalid(field.key, value, fmt::format("expected {}", forms));
  if (parsed->count() < field.min || parsed->count() > field.max) {
    return Invalid(field.key, value,
                   fmt::format("expected {} between {} and {}", forms,
                               FormatDuration(std::chrono::milliseconds(field.min)),
                               FormatDuration(std::chrono::milliseconds(field.max))));
  }
  target = *parsed;
  return core::OkStatus();
}

core::Status SetAgeThreshold(const MetadataField& field, std::string_view value,
                             TriggerMetadata& out) {
  return SetAgeValue(field, value, out.age_threshold);
}

core::Status SetActivationAgeThreshold(const MetadataField& field, std::string_view value,
                                       TriggerMetadata& out) {
  return SetAgeValue(field, value, out.activation_age_threshold);
}

// An age trigger's keys against a lag trigger's: one trigger scales on one
// metric (a ScaledObject wanting both lists two triggers).
void CheckAgeKeys(const MetadataLookup& lookup, const TriggerMetadata& md,
                  std::vector<std::string>& errors) {
  if (md.is_age_trigger()) {
    for (const char* lag_key : {"lagThreshold", "activationLagThreshold"}) {
      if (lookup(lag_key).has_value()) {
        errors.push_back(fmt::format(
            "trigger metadata \"ageThreshold\" and \"{}\" cannot be combined: ageThreshold "
            "scales on the age of the oldest unacknowledged message, {} on lag; keep one, or "
            "use two triggers",
            lag_key, lag_key));
      }
    }
  } else if (lookup("activationAgeThreshold").has_value()) {
    errors.push_back(
        "trigger metadata \"activationAgeThreshold\" needs \"ageThreshold\": set ageThreshold "
        "to scale on the age of the oldest unacknowledged message, or remove "
        "activationAgeThreshold");
  }
}

// `accountID` is another spelling of `account` in migrated triggers: it fills `account` unless
// that is set, and the two must then agree.
core::Status SetAccountAlias(const MetadataField& field, std::string_view value,
                             TriggerMetadata& out) {
  if (value.empty()) {
    return core::InvalidArgumentError(fmt::format(
        "trigger metadata \"{}\" is empty: remove it or set it ({})", field.key, field.meaning));
  }
  if (out.account.has_value() && *out.account != value) {
    return core::InvalidArgumentError(fmt::format(
        "trigger metadata \"account\"=\"{}\" and \"{}\"=\"{}\" disagree; keep one",
        core::Truncate(*out.account), field.key, core::Truncate(value)));
  }
  out.account = std::string(value);
  return core::OkStatus();
}

core::Status NoteIgnored(const MetadataField& field, std::string_view, TriggerMetadata& out) {
  out.ignored_builtin_keys.emplace_back(field.key);
  return core::OkStatus();
}

}  // namespace

const std::vector<MetadataField>& MetadataFields() {
  using M = TriggerMetadata;
  static const std::vector<MetadataField> kFields = {
      {"stream", MetadataKind::kName, true, "", 0, 0, "JetStream stream name",
       &SetName<&M::stream>},
      {"consumer", MetadataKind::kName, true, "", 0, 0, "durable consumer name on that stream",
       &SetName<&M::consumer>},
      {"lagThreshold", MetadataKind::kInt64, false, "10", 1, kInt64Max,
       "target lag per replica (HPA target value)", &SetInt64<&M::lag_threshold>},
      {"activationLagThreshold", MetadataKind::kInt64, false, "0", 0, kInt64Max,
       "the workload is active while lag is above this",
       &SetInt64<&M::activation_lag_threshold>},
      {"account", MetadataKind::kText, false, "", 0, 0,
       "NATS account (KEDA's built-in key): selects the connection that declares it "
       "(--nats-account); not checked on a connection that declares none",
       &SetText<&M::account>},
      {"connection", MetadataKind::kText, false, "", 0, 0,
       "selects a connection by its --nats-url NAME (\"default\" for the unnamed one)",
       &SetText<&M::connection>},
      {"natsUrl", MetadataKind::kText, false, "", 0, 0,
       "must equal a NATS URL the scaler was started with; selects that connection",
       &SetText<&M::nats_url>},
      {"pushInterval", MetadataKind::kDuration, false, "", kPushIntervalRange.min.count(),
       kPushIntervalRange.max.count(), "external-push: how often a watched consumer is re-read",
       &SetDuration<&M::push_interval>, /*push_only=*/true},
      {"ageThreshold", MetadataKind::kDuration, false, "", kAgeRange.min.count(),
       kAgeRange.max.count(),
       "age trigger: target age of the consumer's oldest unacknowledged message per replica "
       "(a Go duration such as 30s, or plain seconds); scales on age instead of lag",
       &SetAgeThreshold},
      {"activationAgeThreshold", MetadataKind::kDuration, false, "", 0, kAgeRange.max.count(),
       "age trigger: the workload is active while that age is above this (default 0)",
       &SetActivationAgeThreshold},
      {"natsServerMonitoringEndpoint", MetadataKind::kIgnored, false, "", 0, 0,
       "built-in scaler only (HTTP monitoring); ignored", &NoteIgnored},
      {"useHttps", MetadataKind::kIgnored, false, "", 0, 0,
       "built-in scaler only (HTTP monitoring); ignored", &NoteIgnored},
      {"accountID", MetadataKind::kText, false, "", 0, 0,
       "another spelling of account; must agree with it when both are set", &SetAccountAlias},
  };
  return kFields;
}

core::StatusOr<TriggerMetadata> ParseTriggerMetadata(const MetadataLookup& lookup,
                                                     TriggerUse use) {
  TriggerMetadata out;
  std::vector<std::string> errors;
  for (const MetadataField& field : MetadataFields()) {
    if (field.push_only && use == TriggerUse::kPolling) continue;
    std::optional<std::string_view> value = lookup(field.key);
    // KEDA's typed config trims the values of its built-in scalers, so a migrated
    // `lagThreshold: " 10 "` must mean 10 here too.
    if (value.has_value()) value = core::TrimWhitespace(*value);
    if (!value.has_value()) {
      if (field.required) {
        errors.push_back(
            fmt::format("trigger metadata \"{}\" is required ({})", field.key, field.meaning));
      }
      if (field.default_value.empty()) continue;
      value = field.default_value;
    }
    if (core::Status s = field.set(field, *value, out); !s.ok()) {
      errors.emplace_back(s.message());
    }
  }
  CheckAgeKeys(lookup, out, errors);
  if (!errors.empty())
    return core::InvalidArgumentError(fmt::format("{}", fmt::join(errors, "; ")));
  return out;
}

}  // namespace jss::core
