#pragma once

#include <nats/nats.h>

#include <string_view>

#include "jss/core/base/status.h"
#include "jss/core/policy/nats_auth.h"

namespace jss::nats {

// A failed cnats call as INVALID_ARGUMENT: `what`, cnats' status text and its
// last error detail (never a secret: a local description or the server's -ERR).
core::Status NatsError(natsStatus s, std::string_view what);

// Sets credentials, nkey, token, user/password and TLS on `opts`. Files are
// checked for readability first, so a wrong path stops start-up naming its
// flag; errors name `connection_label` and the flag, never a secret.
core::Status ApplyAuth(natsOptions* opts, const core::NatsAuth& auth,
                       std::string_view connection_label);

}  // namespace jss::nats
