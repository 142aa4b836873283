#pragma once

#include <mutex>
#include <string>

#include "spdlog/sinks/base_sink.h"

namespace jss::testing {

// An spdlog sink that keeps every formatted line, for tests that assert on what the scaler
// logged. Read under the sink's own lock: the scaler logs from its gRPC, NATS and scheduler
// threads.
class CaptureSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::string Text() {
    std::lock_guard<std::mutex> lock(mutex_);
    return text_;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t buf;
    formatter_->format(msg, buf);
    text_.append(buf.data(), buf.size());
  }
  void flush_() override {}

 private:
  std::string text_;
};

}  // namespace jss::testing
