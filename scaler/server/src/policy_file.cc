#include "policy_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

namespace jss::server {

core::StatusOr<std::string> ReadRegularFile(const std::string& flag, const std::string& path,
                                            size_t max_bytes) {
  const int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    return core::InvalidArgumentError(
        fmt::format("--{}: cannot read \"{}\": {}", flag, path, std::strerror(errno)));
  }
  struct stat st {};
  core::StatusOr<std::string> result = std::string();
  if (fstat(fd, &st) != 0) {
    result = core::InvalidArgumentError(
        fmt::format("--{}: cannot read \"{}\": {}", flag, path, std::strerror(errno)));
  } else if (!S_ISREG(st.st_mode)) {
    result = core::InvalidArgumentError(fmt::format(
        "--{}: \"{}\" is not a regular file (a FIFO, socket or device); point it at a file",
        flag, path));
  } else if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    result = core::InvalidArgumentError(
        fmt::format("--{}: \"{}\" holds {} bytes, more than the {} bytes allowed", flag, path,
                    st.st_size, max_bytes));
  } else {
    std::string text;
    char buffer[16384];
    for (;;) {
      const ssize_t n = read(fd, buffer, sizeof(buffer));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        result = core::InvalidArgumentError(
            fmt::format("--{}: cannot read \"{}\": {}", flag, path, std::strerror(errno)));
        break;
      }
      if (n == 0) {
        result = std::move(text);
        break;
      }
      text.append(buffer, static_cast<size_t>(n));
      if (text.size() > max_bytes) {  // grew while being read
        result = core::InvalidArgumentError(fmt::format(
            "--{}: \"{}\" holds more than the {} bytes allowed", flag, path, max_bytes));
        break;
      }
    }
  }
  close(fd);
  return result;
}

struct PolicyReloader::State {
  std::string path;
  std::chrono::milliseconds interval;
  std::string last;  // only touched by the reload thread
  Apply apply;
  std::mutex mu;
  std::condition_variable cv;
  bool stopped = false;
  bool exited = false;
};

PolicyReloader::PolicyReloader(std::string path, std::chrono::milliseconds interval,
                               std::string current, Apply apply)
    : state_(std::make_shared<State>()) {
  state_->path = std::move(path);
  state_->interval = interval;
  state_->last = std::move(current);
  state_->apply = std::move(apply);
  std::thread([state = state_] {
    std::unique_lock<std::mutex> lock(state->mu);
    while (!state->cv.wait_for(lock, state->interval, [&] { return state->stopped; })) {
      lock.unlock();
      auto text = ReadRegularFile("policy-file", state->path);  // may block: no lock held
      const std::string seen = text.ok() ? *text : text.status().message();
      lock.lock();
      if (state->stopped) break;
      if (seen != state->last) {
        state->last = seen;
        state->apply(text);
      }
    }
    state->exited = true;
    state->cv.notify_all();
  }).detach();
}

PolicyReloader::~PolicyReloader() { Stop(); }

void PolicyReloader::Stop() {
  std::unique_lock<std::mutex> lock(state_->mu);
  state_->stopped = true;
  state_->cv.notify_all();
  // A thread stuck in open()/read() on a hung mount is not waited for past this.
  state_->cv.wait_for(lock, std::chrono::seconds(1), [&] { return state_->exited; });
}

}  // namespace jss::server
