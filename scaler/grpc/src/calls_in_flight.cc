#include "jss/grpc/calls_in_flight.h"

namespace jss::grpc_service {
namespace {

class CountedUnaryReactor final : public grpc::ServerUnaryReactor {
 public:
  explicit CountedUnaryReactor(CallsInFlight& calls) : calls_(calls) { calls_.Begin(); }
  void OnDone() override {
    calls_.End();
    delete this;
  }

 private:
  CallsInFlight& calls_;
};

}  // namespace

grpc::ServerUnaryReactor* CallsInFlight::NewUnaryReactor() {
  return new CountedUnaryReactor(*this);
}

void CallsInFlight::Begin() {
  std::lock_guard<std::mutex> lock(mu_);
  ++count_;
}

void CallsInFlight::End() {
  std::lock_guard<std::mutex> lock(mu_);
  if (--count_ == 0) cv_.notify_all();
}

size_t CallsInFlight::count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return count_;
}

bool CallsInFlight::AwaitIdle(std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_until(lock, deadline, [this] { return count_ == 0; });
}

}  // namespace jss::grpc_service
