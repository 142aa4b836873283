#include "load_generator.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>

#include "externalscaler.grpc.pb.h"

namespace jss::bench {

double Percentile(std::vector<double>& values, double p) {
  if (values.empty()) return 0;
  const auto k = static_cast<size_t>(p * static_cast<double>(values.size() - 1));
  std::nth_element(values.begin(), values.begin() + static_cast<long>(k), values.end());
  return values[k];
}

namespace {

using Clock = std::chrono::steady_clock;

struct Shared {
  const LoadSpec* spec;
  externalscaler::ExternalScaler::Stub* stub;
  std::vector<externalscaler::ScaledObjectRef> refs;
  Clock::time_point end;
  std::atomic<uint64_t> next_object{0};
  std::atomic<uint64_t> errors{0};
  std::mutex mu;
  std::condition_variable cv;
  int lanes_running = 0;
};

// One lane: a chain of calls, each started from the previous one's callback.
class Lane {
 public:
  explicit Lane(Shared* shared) : shared_(shared) { latencies_us_.reserve(1 << 16); }

  void Start() { Next(); }
  std::vector<double>& latencies() { return latencies_us_; }

 private:
  void Next() {
    if (Clock::now() >= shared_->end) {
      std::lock_guard<std::mutex> lock(shared_->mu);
      if (--shared_->lanes_running == 0) shared_->cv.notify_all();
      return;
    }
    const uint64_t object = shared_->next_object.fetch_add(1) %
                            static_cast<uint64_t>(shared_->spec->scaled_objects);
    ctx_ = std::make_unique<grpc::ClientContext>();
    ctx_->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    *request_.mutable_scaledobjectref() = shared_->refs[object];
    started_ = Clock::now();
    const bool is_active = shared_->spec->poll_pair && (++turn_ % 2 == 0);
    if (is_active) {
      shared_->stub->async()->IsActive(ctx_.get(), &shared_->refs[object], &active_response_,
                                       [this](grpc::Status s) { Done(s); });
    } else {
      shared_->stub->async()->GetMetrics(ctx_.get(), &request_, &metrics_response_,
                                         [this](grpc::Status s) { Done(s); });
    }
  }

  void Done(const grpc::Status& status) {
    latencies_us_.push_back(
        std::chrono::duration<double, std::micro>(Clock::now() - started_).count());
    if (!status.ok()) shared_->errors.fetch_add(1);
    Next();
  }

  Shared* shared_;
  std::unique_ptr<grpc::ClientContext> ctx_;
  externalscaler::GetMetricsRequest request_;
  externalscaler::GetMetricsResponse metrics_response_;
  externalscaler::IsActiveResponse active_response_;
  Clock::time_point started_;
  uint64_t turn_ = 0;
  std::vector<double> latencies_us_;
};

}  // namespace

LoadResult RunLoad(const LoadSpec& spec) {
  auto channel = grpc::CreateChannel(spec.address, grpc::InsecureChannelCredentials());
  channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(5));
  auto stub = externalscaler::ExternalScaler::NewStub(channel);
  Shared shared;
  shared.spec = &spec;
  shared.stub = stub.get();
  for (int i = 0; i < spec.scaled_objects; ++i) {
    externalscaler::ScaledObjectRef ref;
    ref.set_name("so-" + std::to_string(i));
    ref.set_namespace_("bench");
    auto& md = *ref.mutable_scalermetadata();
    md["scalerAddress"] = "jetstream-scaler.keda.svc:6000";
    md["stream"] = spec.stream;
    md["consumer"] = "c" + std::to_string(i % spec.consumers);
    md["lagThreshold"] = "10";
    shared.refs.push_back(std::move(ref));
  }
  std::vector<std::unique_ptr<Lane>> lanes;
  for (int i = 0; i < spec.concurrency; ++i) lanes.push_back(std::make_unique<Lane>(&shared));
  shared.lanes_running = spec.concurrency;
  const auto start = Clock::now();
  shared.end = start + spec.duration;
  for (auto& lane : lanes) lane->Start();
  {
    std::unique_lock<std::mutex> lock(shared.mu);
    shared.cv.wait(lock, [&] { return shared.lanes_running == 0; });
  }
  LoadResult result;
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  for (auto& lane : lanes) {
    all.insert(all.end(), lane->latencies().begin(), lane->latencies().end());
  }
  result.calls = all.size();
  result.errors = shared.errors.load();
  result.p50_us = Percentile(all, 0.50);
  result.p99_us = Percentile(all, 0.99);
  return result;
}

}  // namespace jss::bench
