#pragma once

#include <string>
#include <string_view>

namespace jss::core {

// "nats-jetstream-<stream>" with each of / . : % ( ) replaced by '-', case
// kept: the name KEDA's built-in nats-jetstream scaler reports, so dashboards
// and HPA objects keep their metric names after migrating.
std::string MetricNameForStream(std::string_view stream);

// An age trigger's metric: "nats-jetstream-age-<stream>", normalised the same
// way. It differs from the lag trigger's on the same stream, so one
// ScaledObject can carry both (KEDA's s<index>- prefix keeps any two triggers
// apart in the HPA anyway).
std::string MetricNameForAge(std::string_view stream);

}  // namespace jss::core
