#include "jss/core/policy/resolve_trigger.h"

#include <utility>

namespace jss::core {

StatusOr<ResolvedTrigger> ResolveTrigger(const MetadataLookup& metadata, std::string_view ns,
                                         const ConnectionSelector& selector,
                                         const AccessPolicy& policy, TriggerUse use) {
  // A namespace no rule names is refused before anything it sent is looked
  // at: the same answer whatever the metadata, so it cannot map connections.
  if (Status admitted = policy.CheckNamespace(ns); !admitted.ok()) return admitted;
  auto parsed = ParseTriggerMetadata(metadata, use);
  if (!parsed.ok()) return parsed.status();
  auto connection = selector.Select(*parsed);
  if (!connection.ok()) return connection.status();
  ResolvedTrigger out{std::move(*parsed), {}};
  out.key = ConsumerKey{std::move(*connection), out.metadata.stream, out.metadata.consumer};
  if (Status allowed = policy.Check(ns, out.key); !allowed.ok()) return allowed;
  return out;
}

}  // namespace jss::core
