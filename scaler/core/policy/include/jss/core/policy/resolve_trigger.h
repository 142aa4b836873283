#pragma once

#include <string_view>

#include "jss/core/base/status.h"
#include "jss/core/policy/access_policy.h"
#include "jss/core/policy/connection_selector.h"
#include "jss/core/trigger/consumer_key.h"
#include "jss/core/trigger/metadata.h"

namespace jss::core {

// A ScaledObject's trigger, resolved to what the scaler reads.
struct ResolvedTrigger {
  TriggerMetadata metadata;
  ConsumerKey key;  // the selected connection, stream and consumer
};

// From trigger metadata to a read key, for a ScaledObject in namespace `ns`
// (already a valid Kubernetes namespace: ValidateScaledObjectRef):
//   1. a namespace no policy rule names: one generic PERMISSION_DENIED;
//   2. parse and validate the metadata (INVALID_ARGUMENT, every bad key at once);
//   3. select the connection (INVALID_ARGUMENT naming connection / natsUrl / account);
//   4. check the whole policy (PERMISSION_DENIED).
// All before any NATS traffic: a denied namespace learns nothing about
// whether the stream or consumer exists, nor (step 1 first) which
// connections the scaler has.
// `use` says which RPC asks (see TriggerUse): polling RPCs skip the push-only keys.
StatusOr<ResolvedTrigger> ResolveTrigger(const MetadataLookup& metadata, std::string_view ns,
                                         const ConnectionSelector& selector,
                                         const AccessPolicy& policy,
                                         TriggerUse use = TriggerUse::kPush);

}  // namespace jss::core
