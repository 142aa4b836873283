// jss-keda-query: asks the scaler what KEDA asks each poll and prints it.
//   jss-keda-query ADDRESS key=value [key=value...]
#include <iostream>
#include <map>
#include <string>

#include "jss/tools/keda_client.h"

namespace {

constexpr const char* kUsage =
    "usage: jss-keda-query HOST:PORT stream=S consumer=C [key=value...]\n"
    "Calls GetMetricSpec, GetMetrics and IsActive on the scaler at HOST:PORT the way KEDA\n"
    "does, with the key=value pairs as trigger metadata, and prints the answers.\n"
    "Exits 0 when all three succeed, 1 when one fails, 2 on bad arguments.\n";

}  // namespace

int main(int argc, char** argv) {
  const std::string first = argc > 1 ? argv[1] : "";
  if (first == "-h" || first == "--help") {
    std::cout << kUsage;
    return 0;
  }
  // An option where the address belongs would otherwise be dialled as a host name.
  if (argc < 2 || first.empty() || first[0] == '-') {
    if (!first.empty()) std::cerr << "jss-keda-query: unknown option \"" << first << "\"\n";
    std::cerr << kUsage;
    return 2;
  }
  std::map<std::string, std::string> md;
  for (int i = 2; i < argc; ++i) {
    std::string kv = argv[i];
    const size_t eq = kv.find('=');
    if (eq == std::string::npos) {
      std::cerr << "jss-keda-query: expected key=value, got \"" << kv << "\"\n";
      return 2;
    }
    md[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  jss::tools::KedaClient client(argv[1]);
  int rc = 0;
  auto spec = client.GetMetricSpec(md);
  if (spec.ok()) {
    std::cout << "GetMetricSpec: metricName=" << spec->metric_name
              << " targetSize=" << spec->target_size
              << " targetSizeFloat=" << spec->target_size_float << "\n";
  } else {
    std::cout << "GetMetricSpec: error " << spec.status().ToString() << "\n";
    rc = 1;
  }
  auto value = client.GetMetrics(md, spec.ok() ? spec->metric_name : "");
  if (value.ok()) {
    std::cout << "GetMetrics:    metricName=" << value->metric_name
              << " metricValue=" << value->value << " metricValueFloat=" << value->value_float
              << "\n";
  } else {
    std::cout << "GetMetrics:    error " << value.status().ToString() << "\n";
    rc = 1;
  }
  auto active = client.IsActive(md);
  if (active.ok()) {
    std::cout << "IsActive:      result=" << (*active ? "true" : "false") << "\n";
  } else {
    std::cout << "IsActive:      error " << active.status().ToString() << "\n";
    rc = 1;
  }
  return rc;
}
