#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include "jss/core/base/status.h"


namespace jss::core {

// Longest stream or consumer name accepted (JetStream's own limit).
inline constexpr size_t kMaxNameLength = 255;

// The trigger metadata of one ScaledObject, after parsing and validation.
// Keys and meaning follow KEDA's built-in `nats-jetstream` scaler so that a
// migration only changes the trigger type.
struct TriggerMetadata {
  std::string stream;
  std::string consumer;
  int64_t lag_threshold = 10;
  int64_t activation_lag_threshold = 0;
  // KEDA's built-in scaler requires `account` (or `accountID`); here it selects or is checked
  // against the connection that declares it (--nats-account), see ConnectionSelector.
  std::optional<std::string> account;
  // A connection by its --nats-url NAME ("default" for the unnamed one).
  std::optional<std::string> connection;
  std::optional<std::string> nats_url;
  std::optional<std::chrono::milliseconds> push_interval;
  // An age trigger (`ageThreshold`): the metric is the age of the consumer's
  // oldest unacknowledged message, not its lag; the target is this age.
  std::optional<std::chrono::milliseconds> age_threshold;
  // Active while that age is above this (`activationAgeThreshold`).
  std::chrono::milliseconds activation_age_threshold{0};
  bool is_age_trigger() const { return age_threshold.has_value(); }
  // Keys of the built-in scaler that only make sense for its HTTP monitoring
  // endpoint; accepted so migration is painless, and otherwise ignored.
  std::vector<std::string> ignored_builtin_keys;
};

enum class MetadataKind {
  kName,      // a JetStream stream/consumer name (no subject tokens)
  kInt64,     // decimal integer within [min, max]
  kText,      // free text, must not be empty
  kDuration,  // Go-style duration within [min, max] milliseconds
  kIgnored,   // accepted for compatibility, never read
};

struct MetadataField;
// Checks one value and stores it in its TriggerMetadata member; INVALID_ARGUMENT
// naming the key otherwise.
using MetadataSetter = core::Status (*)(const MetadataField& field, std::string_view value,
                                        TriggerMetadata& out);

// One row of the declarative metadata table: the key, its documentation and
// where its value goes (bound to the member, not looked up by key).
struct MetadataField {
  std::string_view key;
  MetadataKind kind;
  bool required;
  std::string_view default_value;  // empty: no default
  int64_t min;
  int64_t max;
  std::string_view meaning;  // one line for --help / docs / error messages
  MetadataSetter set;
  // Read only by StreamIsActive (external-push); the polling RPCs skip it, so a stray or
  // bad value on an `external` trigger cannot fail them.
  bool push_only = false;
};

// Which RPC the metadata is parsed for: polling (GetMetricSpec, GetMetrics, IsActive,
// StreamMetricSpec) skips the push-only keys; kPush (StreamIsActive) reads them all.
enum class TriggerUse { kPolling, kPush };

// Every key the scaler reads, in documentation order. Keys not listed here
// (KEDA forwards scalerAddress, enableTLS, ... too) are ignored.
const std::vector<MetadataField>& MetadataFields();

// Returns the value stored under `key`, or nullopt when the key is absent.
using MetadataLookup =
    std::function<std::optional<std::string_view>(std::string_view key)>;

// Parses and validates. Values are trimmed of surrounding white space first, as KEDA's typed
// config does for its built-in scalers (`lagThreshold: " 10 "` is 10). Errors are INVALID_ARGUMENT naming the key, the bad
// value and what is expected; every bad key is reported at once ("; "-joined),
// so one round trip through KEDA shows all that needs fixing. With TriggerUse::kPolling the
// push-only keys are neither read nor checked (push_interval stays unset).
core::StatusOr<TriggerMetadata> ParseTriggerMetadata(const MetadataLookup& lookup,
                                                     TriggerUse use = TriggerUse::kPush);

}  // namespace jss::core
