#include "jss/core/trigger/metric_name.h"

namespace jss::core {

namespace {

std::string Normalised(std::string name) {
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

}  // namespace

std::string MetricNameForStream(std::string_view stream) {
  return Normalised("nats-jetstream-" + std::string(stream));
}

std::string MetricNameForAge(std::string_view stream) {
  return Normalised("nats-jetstream-age-" + std::string(stream));
}

}  // namespace jss::core
