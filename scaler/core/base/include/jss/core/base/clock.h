#pragma once

#include <chrono>

namespace jss::core {

using SteadyTime = std::chrono::steady_clock::time_point;

// Injected so that freshness windows and expiry are testable without sleeping.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual SteadyTime Now() const = 0;
};

class SteadyClock final : public Clock {
 public:
  SteadyTime Now() const override { return std::chrono::steady_clock::now(); }
};

}  // namespace jss::core
