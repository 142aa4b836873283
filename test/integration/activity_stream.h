#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
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

// Many StreamIsActive calls on one channel without a thread each, the way
// KEDA multiplexes every push ScaledObject over its one connection: gRPC's
// callback client, every pushed value time-stamped on arrival in a shared
// board.
class ActivityBoard {
 public:
  using Clock = std::chrono::steady_clock;
  explicit ActivityBoard(size_t streams) : latest_(streams), became_true_(streams) {}

  // Opens stream `index` for `md`.
  void Open(externalscaler::ExternalScaler::Stub& stub, size_t index,
            const std::map<std::string, std::string>& md, const std::string& name) {
    streams_.push_back(std::make_unique<Stream>(*this, stub, index, md, name));
  }
  void CancelAll() {
    for (auto& s : streams_) s->Cancel();
  }
  // Awaits `condition` over the board (bounded: a failing test, not a
  // measurement). True if it held.
  bool Await(const std::function<bool(const ActivityBoard&)>& condition,
             std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return condition(*this); });
  }
  // For conditions (called with the board's lock held).
  size_t WithValue() const { return with_value_; }
  size_t Ended() const { return ended_.size(); }
  std::optional<bool> Latest(size_t i) const { return latest_[i]; }
  // Under the lock, outside conditions.
  Clock::time_point BecameTrue(size_t i) {
    std::lock_guard<std::mutex> lock(mu_);
    return became_true_[i];
  }
  std::vector<grpc::StatusCode> EndCodes() {
    std::lock_guard<std::mutex> lock(mu_);
    return ended_;
  }
  Clock::time_point LastFirstValue() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_first_value_;
  }

 private:
  class Stream final : public grpc::ClientReadReactor<externalscaler::IsActiveResponse> {
   public:
    Stream(ActivityBoard& board, externalscaler::ExternalScaler::Stub& stub, size_t index,
           const std::map<std::string, std::string>& md, const std::string& name)
        : board_(board), index_(index) {
      request_ = tools::MakeRef(md, name, "apps");
      stub.async()->StreamIsActive(&ctx_, &request_, this);
      StartRead(&response_);
      StartCall();
    }
    ~Stream() override {
      ctx_.TryCancel();
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return done_; });
    }
    void Cancel() { ctx_.TryCancel(); }
    void OnReadDone(bool ok) override {
      if (!ok) return;
      board_.Record(index_, response_.result());
      StartRead(&response_);
    }
    void OnDone(const grpc::Status& status) override {
      board_.RecordEnd(status.error_code());
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
      cv_.notify_all();
    }

   private:
    ActivityBoard& board_;
    size_t index_;
    grpc::ClientContext ctx_;
    externalscaler::ScaledObjectRef request_;
    externalscaler::IsActiveResponse response_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool done_ = false;
  };

  void Record(size_t i, bool value) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      const auto now = Clock::now();
      if (!latest_[i].has_value()) {
        ++with_value_;
        last_first_value_ = now;
      }
      if (value && latest_[i] != true) became_true_[i] = now;
      latest_[i] = value;
    }
    cv_.notify_all();
  }
  void RecordEnd(grpc::StatusCode code) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ended_.push_back(code);
    }
    cv_.notify_all();
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::optional<bool>> latest_;
  std::vector<Clock::time_point> became_true_;
  size_t with_value_ = 0;
  Clock::time_point last_first_value_{};
  std::vector<grpc::StatusCode> ended_;
  // Last: destroyed first, while the board they report to still exists.
  std::vector<std::unique_ptr<Stream>> streams_;
};

}  // namespace jss::testing
