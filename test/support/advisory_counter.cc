#include "support/advisory_counter.h"

#include <regex>

namespace jss::testing {

ApiLimitAdvisories::ApiLimitAdvisories(const std::string& url) {
  ok_ = natsConnection_ConnectTo(&conn_, url.c_str()) == NATS_OK &&
        natsConnection_Subscribe(&sub_, conn_, "$JS.EVENT.ADVISORY.API.LIMIT_REACHED",
                                 &ApiLimitAdvisories::OnMessage, this) == NATS_OK &&
        natsConnection_Flush(conn_) == NATS_OK;
}

ApiLimitAdvisories::~ApiLimitAdvisories() {
  if (conn_ != nullptr) natsConnection_Close(conn_);
  natsSubscription_Destroy(sub_);
  natsConnection_Destroy(conn_);
}

void ApiLimitAdvisories::OnMessage(natsConnection*, natsSubscription*, natsMsg* msg, void* self) {
  auto* me = static_cast<ApiLimitAdvisories*>(self);
  const std::string body(natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg)));
  natsMsg_Destroy(msg);
  me->advisories_++;
  std::smatch m;
  static const std::regex kDropped("\"dropped\":(\\d{1,18})");
  if (std::regex_search(body, m, kDropped)) me->dropped_ += std::stoll(m[1]);
}

std::string ConfigWithSystemAccount(const std::string& extra) {
  return R"(
accounts {
  APP { jetstream: enabled, users: [ { user: app, password: app-pw } ] }
  SYS { users: [ { user: sys, password: sys-pw } ] }
}
system_account: SYS
no_auth_user: app
)" + extra;
}

std::string SystemAccountUrl(int port) {
  return "nats://sys:sys-pw@127.0.0.1:" + std::to_string(port);
}

}  // namespace jss::testing
