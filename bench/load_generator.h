#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace jss::bench {

struct LoadSpec {
  std::string address;
  int scaled_objects = 1000;  // distinct ScaledObjects polled round-robin
  int consumers = 100;        // ScaledObject i reads consumer i % consumers
  std::string stream = "BENCH";
  int concurrency = 64;  // calls kept in flight ("streams of calls")
  std::chrono::milliseconds duration{3000};
  bool poll_pair = true;  // KEDA's poll: GetMetrics then IsActive
};

struct LoadResult {
  uint64_t calls = 0;
  uint64_t errors = 0;
  double seconds = 0;
  double p50_us = 0;
  double p99_us = 0;
  double CallsPerSecond() const { return seconds > 0 ? static_cast<double>(calls) / seconds : 0; }
};

// Drives the ExternalScaler like KEDA at scale: `concurrency` lanes each keep
// one call in flight on one HTTP/2 connection (as KEDA does), cycling through
// ScaledObjects. Latency is per call, measured client-side.
LoadResult RunLoad(const LoadSpec& spec);

double Percentile(std::vector<double>& values, double p);

}  // namespace jss::bench
