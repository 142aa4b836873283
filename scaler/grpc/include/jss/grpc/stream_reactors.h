#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <optional>

#include "externalscaler.grpc.pb.h"
#include "jss/core/base/status.h"
#include "jss/core/push/push_hub.h"

namespace jss::grpc_service {

// Called once when a stream ends, with its final status code.
using StreamDone = std::function<void(core::StatusCode)>;

// StreamIsActive: one open stream of activity changes for one ScaledObject.
// Fed by the shared PushHub; writes the first activity, then only
// changes. Ends with OK on client cancel and on shutdown (KEDA resets its
// reconnect back-off only after a clean end), with an error only when the
// hub gives up for good (bad metadata, access denied). Deletes itself when
// gRPC is done with it.
class IsActiveStream final : public grpc::ServerWriteReactor<externalscaler::IsActiveResponse> {
 public:
  IsActiveStream(core::PushHub& hub, StreamDone done);

  // Exactly one of these starts the stream.
  void Subscribe(const core::ConsumerKey& key, core::PushActivation activation,
                 std::chrono::milliseconds interval);
  void Reject(const core::Status& status);
  // Ends the stream with `status` once a write in progress completes (no
  // effect if it is already ending).
  void Close(const core::Status& status);

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  void OnActivity(const core::PushHub::Update& update);
  // With mu_ held: what to do next; the caller acts after unlocking.
  enum class Next { kNothing, kWrite, kFinish };
  Next DecideLocked();
  void Act(Next next);

  core::PushHub& hub_;
  StreamDone done_;
  std::mutex mu_;
  core::PushHub::SubscriptionId subscription_ = 0;
  bool subscribed_ = false;
  bool writing_ = false;
  bool finished_ = false;
  std::optional<bool> pending_;
  std::optional<bool> last_written_;
  std::optional<core::Status> finish_with_;
  externalscaler::IsActiveResponse response_;
};

// StreamMetricSpec: sends the current spec at open and keeps the stream open
// (the spec of a trigger only changes when KEDA re-reads its metadata, which
// opens a new stream). Ends (OK) on client cancel or when Close() is called.
class MetricSpecStream final
    : public grpc::ServerWriteReactor<externalscaler::GetMetricSpecResponse> {
 public:
  // With no spec the stream is only good for Reject().
  MetricSpecStream(std::optional<externalscaler::GetMetricSpecResponse> spec, StreamDone done,
                   std::function<void(MetricSpecStream*)> unregister);
  void Reject(const core::Status& status);
  void Close(const core::Status& status);

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  void FinishOnce(const core::Status& status);

  externalscaler::GetMetricSpecResponse spec_;
  StreamDone done_;
  std::function<void(MetricSpecStream*)> unregister_;
  std::mutex mu_;
  bool writing_ = false;
  bool finished_ = false;
  std::optional<core::Status> finish_with_;
};

}  // namespace jss::grpc_service
