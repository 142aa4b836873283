#include "jss/core/connection_selector.h"
#include "jss/core/status.h"
#include "jss/core/strings.h"


namespace jss::core {

std::string NormalizeNatsUrl(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

ConnectionSelector::ConnectionSelector(std::vector<ConnectionConfig> connections)
    : connections_(std::move(connections)) {
  for (const auto& c : connections_) has_named_ = has_named_ || c.named;
}

const ConnectionConfig* ConnectionSelector::FindByUrl(const std::string& url) const {
  const std::string wanted = NormalizeNatsUrl(url);
  for (const auto& c : connections_) {
    for (const auto& server : c.servers) {
      if (NormalizeNatsUrl(server) == wanted) return &c;
    }
  }
  return nullptr;
}

std::string ConnectionSelector::KnownNames() const {
  std::vector<std::string> names;
  for (const auto& c : connections_) names.push_back(c.name);
  return core::StrJoin(names, ", ");
}

core::StatusOr<std::string> ConnectionSelector::Select(const TriggerMetadata& metadata) const {
  if (connections_.empty()) {
    return core::FailedPreconditionError("the scaler has no NATS connection configured");
  }
  const ConnectionConfig* by_account = nullptr;
  if (metadata.account.has_value() && has_named_) {
    for (const auto& c : connections_) {
      if (c.name == *metadata.account) by_account = &c;
    }
    if (by_account == nullptr) {
      return core::InvalidArgumentError(core::StrCat(
          "trigger metadata \"account\"=\"", core::Truncate(*metadata.account),
          "\" does not name a connection of this scaler; configured connections: ",
          KnownNames(), " (add a --nats-url NAME=URL for it or fix the trigger)"));
    }
  }
  const ConnectionConfig* by_url = nullptr;
  if (metadata.nats_url.has_value()) {
    by_url = FindByUrl(*metadata.nats_url);
    if (by_url == nullptr) {
      return core::InvalidArgumentError(core::StrCat(
          "trigger metadata \"natsUrl\"=\"", core::Truncate(*metadata.nats_url),
          "\" is not a NATS URL this scaler was configured with; the scaler only "
          "dials operator-configured servers (remove natsUrl or set it to one of "
          "the scaler's --nats-url values)"));
    }
  }
  if (by_account != nullptr && by_url != nullptr && by_account != by_url) {
    return core::InvalidArgumentError(core::StrCat(
        "trigger metadata \"account\"=\"", core::Truncate(*metadata.account),
        "\" and \"natsUrl\"=\"", core::Truncate(*metadata.nats_url),
        "\" select different connections (\"", by_account->name,
        "\" vs \"", by_url->name, "\"); remove one"));
  }
  if (by_account != nullptr) return by_account->name;
  if (by_url != nullptr) return by_url->name;
  return connections_.front().name;
}

}  // namespace jss::core
