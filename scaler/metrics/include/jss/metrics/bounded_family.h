#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>

#include "jss/core/base/clock.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"

namespace jss::metrics {

// How many series a family labelled with tenant-chosen names may hold, and how
// long a series nobody updates is kept.
struct SeriesLimits {
  size_t max_series = 10000;
  std::chrono::milliseconds idle_ttl{std::chrono::minutes(15)};
};

// A Prometheus family whose label values are chosen by tenants (stream,
// consumer and namespace names). It holds at most `max_series` series;
// beyond that new series are refused (nullptr) and `dropped` counts them; a
// series not touched for `idle_ttl` is removed, so names nobody asks about any
// more stop costing memory and scrape size. Thread-safe.
template <typename Metric>
class BoundedFamily {
 public:
  BoundedFamily(prometheus::Family<Metric>& family, SeriesLimits limits,
                prometheus::Counter& dropped, const core::Clock& clock)
      : family_(family), limits_(limits), dropped_(dropped), clock_(clock) {
    last_sweep_ = clock_.Now();
  }

  // The series for `labels`, created when `create` and under the cap; nullptr
  // otherwise. `make` builds a new series from the family (for histograms'
  // buckets); by default Family::Add(labels).
  template <typename Make>
  Metric* Get(const prometheus::Labels& labels, bool create, Make make) {
    std::lock_guard<std::mutex> lock(mu_);
    const core::SteadyTime now = clock_.Now();
    SweepLocked(now);
    auto it = series_.find(labels);
    if (it != series_.end()) {
      it->second.touched = now;
      return it->second.metric;
    }
    if (!create) return nullptr;
    if (series_.size() >= limits_.max_series) {
      dropped_.Increment();
      return nullptr;
    }
    Metric* metric = &make(family_, labels);
    series_.emplace(labels, Series{metric, now});
    return metric;
  }
  Metric* Get(const prometheus::Labels& labels, bool create = true) {
    return Get(labels, create, [](prometheus::Family<Metric>& family,
                                  const prometheus::Labels& l) -> Metric& { return family.Add(l); });
  }

  bool Contains(const prometheus::Labels& labels) const {
    std::lock_guard<std::mutex> lock(mu_);
    return series_.count(labels) != 0;
  }

  size_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return series_.size();
  }

 private:
  struct Series {
    Metric* metric;
    core::SteadyTime touched;
  };

  // Amortised: a full pass at most every tenth of the idle time.
  void SweepLocked(core::SteadyTime now) {
    if (now - last_sweep_ < limits_.idle_ttl / 10) return;
    last_sweep_ = now;
    for (auto it = series_.begin(); it != series_.end();) {
      if (now - it->second.touched >= limits_.idle_ttl) {
        family_.Remove(it->second.metric);
        it = series_.erase(it);
      } else {
        ++it;
      }
    }
  }

  prometheus::Family<Metric>& family_;
  const SeriesLimits limits_;
  prometheus::Counter& dropped_;
  const core::Clock& clock_;
  mutable std::mutex mu_;
  std::map<prometheus::Labels, Series> series_;
  core::SteadyTime last_sweep_{};
};

}  // namespace jss::metrics
