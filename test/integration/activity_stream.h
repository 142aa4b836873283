#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "externalscaler.grpc.pb.h"
#include "jss/tools/keda_client.h"

namespace jss::testing {

// One open StreamIsActive call, read on its own thread like KEDA does. Keeps
// the values not yet taken with Next() and every value ever received (to
// prove that no `false` was pushed).
class ActivityStream {
 public:
  ActivityStream(externalscaler::ExternalScaler::Stub& stub,
                 const std::map<std::string, std::string>& md, const std::string& name = "so") {
    reader_ = stub.StreamIsActive(&ctx_, tools::MakeRef(md, name, "apps"));
    thread_ = std::thread([this] {
      externalscaler::IsActiveResponse msg;
      while (reader_->Read(&msg)) {
        std::lock_guard<std::mutex> lock(mu_);
        unread_.push_back(msg.result());
        history_.push_back(msg.result());
        cv_.notify_all();
      }
      grpc::Status status = reader_->Finish();
      std::lock_guard<std::mutex> lock(mu_);
      status_ = status;
      cv_.notify_all();
    });
  }
  ~ActivityStream() {
    ctx_.TryCancel();
    thread_.join();
  }

  // The next pushed value, or nullopt when the stream ended or nothing came
  // within `timeout` (a generous bound for a failing test, not a measurement).
  std::optional<bool> Next(std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return !unread_.empty() || status_.has_value(); });
    if (unread_.empty()) return std::nullopt;
    const bool value = unread_.front();
    unread_.pop_front();
    return value;
  }

  // The final status once the stream ended (waits up to `timeout`).
  std::optional<grpc::Status> Ended(std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return status_.has_value(); });
    return status_;
  }

  std::deque<bool> Unread() {
    std::lock_guard<std::mutex> lock(mu_);
    return unread_;
  }

  std::vector<bool> History() {
    std::lock_guard<std::mutex> lock(mu_);
    return history_;
  }

  void Cancel() { ctx_.TryCancel(); }

 private:
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<externalscaler::IsActiveResponse>> reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<bool> unread_;
  std::vector<bool> history_;
  std::optional<grpc::Status> status_;
  std::thread thread_;
};

}  // namespace jss::testing
