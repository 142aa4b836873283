#pragma once

#include <string>
#include <string_view>

namespace jss::core {

// "nats-jetstream-<stream>" with each of / . : % ( ) replaced by '-', case
// kept: the name KEDA's built-in nats-jetstream scaler reports, so dashboards
// and HPA objects keep their metric names after migrating.
std::string MetricNameForStream(std::string_view stream);

}  // namespace jss::core
