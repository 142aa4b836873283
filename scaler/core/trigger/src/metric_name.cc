#include "jss/core/trigger/metric_name.h"

namespace jss::core {

std::string MetricNameForStream(std::string_view stream) {
  std::string name = "nats-jetstream-";
  name.append(stream);
  for (char& c : name) {
    switch (c) {
      case '/':
      case '.':
      case ':':
      case '%':
      case '(':
      case ')':
        c = '-';
        break;
      default:
        break;
    }
  }
  return name;
}

}  // namespace jss::core
