#include "jss/grpc/stream_reactors.h"

#include <utility>

#include "jss/grpc/grpc_status.h"

namespace jss::grpc_service {
namespace {

// A stream KEDA cancels (ScaledObject changed or deleted, KEDA stopping) or
// whose client went away ends with OK: nothing went wrong on our side, and
// the RPC metrics and logs should not count it as an error.
core::Status Ended() { return core::OkStatus(); }

}  // namespace

IsActiveStream::IsActiveStream(core::PushHub& hub, StreamDone done)
    : hub_(hub), done_(std::move(done)) {}

void IsActiveStream::Subscribe(const core::ConsumerKey& key, core::PushActivation activation,
                               std::chrono::milliseconds interval) {
  // The hub may call back before Subscribe returns (it already knows the
  // lag), so no lock is held across the call.
  const auto id = hub_.Subscribe(key, activation, interval,
                                 [this](const core::PushHub::Update& u) { OnActivity(u); });
  bool late = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    subscription_ = id;
    subscribed_ = true;
    late = finished_;
  }
  if (late) hub_.Unsubscribe(id);  // cancelled while subscribing
}

void IsActiveStream::Reject(const core::Status& status) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    finish_with_ = status;
  }
  Act(Next::kFinish);
}

void IsActiveStream::Close(const core::Status& status) {
  Next next;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) return;
    if (!finish_with_.has_value()) finish_with_ = status;
    next = DecideLocked();
  }
  Act(next);
}

void IsActiveStream::OnActivity(const core::PushHub::Update& update) {
  Next next;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) return;
    if (update.active.has_value()) {
      pending_ = *update.active;
    } else if (!finish_with_.has_value()) {
      finish_with_ = update.end;
    }
    next = DecideLocked();
  }
  Act(next);
}

IsActiveStream::Next IsActiveStream::DecideLocked() {
  if (finished_ || writing_) return Next::kNothing;
  if (pending_.has_value() && pending_ != last_written_ && !finish_with_.has_value()) {
    last_written_ = pending_;
    response_.set_result(*pending_);
    writing_ = true;
    return Next::kWrite;
  }
  if (finish_with_.has_value()) {
    finished_ = true;
    return Next::kFinish;
  }
  return Next::kNothing;
}

void IsActiveStream::Act(Next next) {
  if (next == Next::kWrite) {
    StartWrite(&response_);
  } else if (next == Next::kFinish) {
    core::Status status;
    {
      std::lock_guard<std::mutex> lock(mu_);
      finished_ = true;
      status = *finish_with_;
    }
    Finish(ToGrpc(status));
  }
}

void IsActiveStream::OnWriteDone(bool ok) {
  Next next;
  {
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
    if (!ok && !finish_with_.has_value()) finish_with_ = Ended();
    next = DecideLocked();
  }
  Act(next);
}

void IsActiveStream::OnCancel() {
  core::PushHub::SubscriptionId id = 0;
  bool subscribed;
  Next next;
  {
    std::lock_guard<std::mutex> lock(mu_);
    subscribed = subscribed_;
    id = subscription_;
    if (!finish_with_.has_value()) finish_with_ = Ended();
    next = DecideLocked();
  }
  if (subscribed) hub_.Unsubscribe(id);
  Act(next);
}

void IsActiveStream::OnDone() {
  core::PushHub::SubscriptionId id;
  bool subscribed;
  core::StatusCode code;
  {
    std::lock_guard<std::mutex> lock(mu_);
    id = subscription_;
    subscribed = subscribed_;
    finished_ = true;
    code = finish_with_.has_value() ? finish_with_->code() : core::StatusCode::kOk;
  }
  if (subscribed) hub_.Unsubscribe(id);
  done_(code);
  delete this;
}

MetricSpecStream::MetricSpecStream(std::optional<externalscaler::GetMetricSpecResponse> spec,
                                   StreamDone done,
                                   std::function<void(MetricSpecStream*)> unregister)
    : done_(std::move(done)), unregister_(std::move(unregister)) {
  if (!spec.has_value()) return;
  spec_ = std::move(*spec);
  std::lock_guard<std::mutex> lock(mu_);
  writing_ = true;
  StartWrite(&spec_);
}

void MetricSpecStream::Reject(const core::Status& status) { FinishOnce(status); }

void MetricSpecStream::Close(const core::Status& status) { FinishOnce(status); }

void MetricSpecStream::FinishOnce(const core::Status& status) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) return;
    if (writing_) {  // finish once the write completes
      if (!finish_with_.has_value()) finish_with_ = status;
      return;
    }
    finished_ = true;
    finish_with_ = status;
  }
  Finish(ToGrpc(status));
}

void MetricSpecStream::OnWriteDone(bool ok) {
  std::optional<core::Status> finish;
  {
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
    if (!ok && !finish_with_.has_value()) finish_with_ = Ended();
    if (finish_with_.has_value() && !finished_) {
      finished_ = true;
      finish = finish_with_;
    }
  }
  if (finish.has_value()) Finish(ToGrpc(*finish));
}

void MetricSpecStream::OnCancel() { FinishOnce(Ended()); }

void MetricSpecStream::OnDone() {
  unregister_(this);
  core::StatusCode code;
  {
    std::lock_guard<std::mutex> lock(mu_);
    code = finish_with_.has_value() ? finish_with_->code() : core::StatusCode::kOk;
  }
  done_(code);
  delete this;
}

}  // namespace jss::grpc_service
