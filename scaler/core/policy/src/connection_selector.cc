#include "jss/core/policy/connection_selector.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "jss/core/base/status.h"
#include "jss/core/base/strings.h"


namespace jss::core {

std::string NormalizeNatsUrl(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

std::string RedactUrl(std::string_view url) {
  const size_t scheme = url.find("://");
  const size_t start = scheme == std::string_view::npos ? 0 : scheme + 3;
  std::string out(url.substr(0, start));
  const std::string_view rest = url.substr(start);
  const size_t authority_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, authority_end);
  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
    out += "REDACTED@";
    authority = authority.substr(at + 1);
  }
  out += authority;
  if (authority_end != std::string_view::npos) {
    const std::string_view tail = rest.substr(authority_end);
    const size_t query = tail.find_first_of("?#");
    out += tail.substr(0, query);
    if (query != std::string_view::npos) out += "?REDACTED";
  }
  return Preview(out, 128);
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
  return fmt::format("{}", fmt::join(names, ", "));
}

const ConnectionConfig* ConnectionSelector::FindByName(const std::string& name) const {
  for (const auto& c : connections_) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

const ConnectionConfig* ConnectionSelector::FindByAccount(const std::string& account) const {
  for (const auto& c : connections_) {
    for (const auto& a : c.accounts) {
      if (a == account) return &c;
    }
  }
  return nullptr;
}

// The connection `account` selects: the one declaring it, else the one of that name; nullptr
// when neither (an error only if nothing else selects and there are named connections).
core::StatusOr<const ConnectionConfig*> ConnectionSelector::SelectByAccount(
    const TriggerMetadata& metadata) const {
  if (!metadata.account.has_value()) return nullptr;
  const std::string& account = *metadata.account;
  if (const ConnectionConfig* declared = FindByAccount(account)) return declared;
  if (!has_named_) return nullptr;
  if (const ConnectionConfig* by_name = FindByName(account)) return by_name;
  if (metadata.connection.has_value() || metadata.nats_url.has_value()) return nullptr;
  return core::InvalidArgumentError(fmt::format(
      "trigger metadata \"account\"=\"{}\" is not declared by any connection of this scaler "
      "(configured connections: {}); declare it with --nats-account CONNECTION={}, or select "
      "the connection with \"connection\"",
      core::Truncate(account), KnownNames(), core::Truncate(account)));
}

core::StatusOr<std::string> ConnectionSelector::Select(const TriggerMetadata& metadata) const {
  if (connections_.empty()) {
    return core::FailedPreconditionError("the scaler has no NATS connection configured");
  }
  // (key, value, selected connection) for every key that selects one.
  struct Choice {
    std::string_view key;
    std::string value;
    const ConnectionConfig* connection;
  };
  std::vector<Choice> choices;
  if (metadata.connection.has_value()) {
    const ConnectionConfig* c = FindByName(*metadata.connection);
    if (c == nullptr) {
      return core::InvalidArgumentError(fmt::format(
          "trigger metadata \"connection\"=\"{}\" does not name a connection of this scaler; "
          "configured connections: {}",
          core::Truncate(*metadata.connection), KnownNames()));
    }
    choices.push_back({"connection", *metadata.connection, c});
  }
  if (metadata.nats_url.has_value()) {
    const ConnectionConfig* c = FindByUrl(*metadata.nats_url);
    if (c == nullptr) {
      return core::InvalidArgumentError(fmt::format(
          "trigger metadata \"natsUrl\"=\"{}\" is not a NATS URL this scaler was configured "
          "with; the scaler only dials operator-configured servers (remove natsUrl or set it "
          "to one of the scaler's --nats-url values)",
          RedactUrl(*metadata.nats_url)));
    }
    choices.push_back({"natsUrl", *metadata.nats_url, c});
  }
  auto by_account = SelectByAccount(metadata);
  if (!by_account.ok()) return by_account.status();
  if (*by_account != nullptr) choices.push_back({"account", *metadata.account, *by_account});

  for (const Choice& other : choices) {
    if (other.connection == choices.front().connection) continue;
    return core::InvalidArgumentError(fmt::format(
        "trigger metadata \"{}\"=\"{}\" and \"{}\"=\"{}\" select different connections "
        "(\"{}\" vs \"{}\"); remove one",
        choices.front().key, core::Truncate(choices.front().value), other.key,
        core::Truncate(other.value), choices.front().connection->name, other.connection->name));
  }
  const ConnectionConfig& chosen =
      choices.empty() ? connections_.front() : *choices.front().connection;
  if (metadata.account.has_value() && !chosen.accounts.empty() &&
      std::find(chosen.accounts.begin(), chosen.accounts.end(), *metadata.account) ==
          chosen.accounts.end()) {
    return core::InvalidArgumentError(fmt::format(
        "trigger metadata \"account\"=\"{}\" is not an account of connection \"{}\" (it "
        "serves {}); fix the trigger or add the account with --nats-account {}=...",
        core::Truncate(*metadata.account), chosen.name, fmt::join(chosen.accounts, ", "),
        chosen.name));
  }
  return chosen.name;
}

}  // namespace jss::core
