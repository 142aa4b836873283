#include "jss/grpc/open_streams.h"

#include <utility>
#include <vector>

namespace jss::grpc_service {

OpenStreams::OpenStreams(core::Scheduler* scheduler, std::chrono::milliseconds max_age)
    : scheduler_(scheduler),
      max_age_(scheduler != nullptr ? max_age : std::chrono::milliseconds(0)),
      state_(std::make_shared<State>()),
      rng_(std::random_device{}()) {}

OpenStreams::~OpenStreams() {
  if (scheduler_ == nullptr) return;
  std::lock_guard<std::recursive_mutex> lock(state_->mu);
  for (const auto& [id, entry] : state_->entries) scheduler_->Cancel(entry.age_task);
}

std::chrono::milliseconds OpenStreams::JitteredAge() {
  // Spread over [max/2, max]: streams opened together (a KEDA restart) do
  // not all reconnect in the same second.
  std::lock_guard<std::mutex> lock(rng_mu_);
  std::uniform_int_distribution<int64_t> pick(max_age_.count() / 2, max_age_.count());
  return std::chrono::milliseconds(pick(rng_));
}

uint64_t OpenStreams::Reserve() {
  std::lock_guard<std::recursive_mutex> lock(state_->mu);
  if (state_->closed) return 0;
  const uint64_t id = state_->next_id++;
  state_->entries[id];
  return id;
}

void OpenStreams::Activate(uint64_t id, Closer close) {
  const auto age = max_age_.count() > 0 ? JitteredAge() : std::chrono::milliseconds(0);
  std::lock_guard<std::recursive_mutex> lock(state_->mu);
  auto it = state_->entries.find(id);
  if (it == state_->entries.end()) return;  // already ended
  it->second.close = std::move(close);
  if (state_->closed) {  // closed between Reserve and now
    const Closer copy = it->second.close;
    copy(state_->closed_with);
    return;
  }
  if (age.count() > 0) {
    it->second.age_task = scheduler_->RunAfter(
        age, [weak = std::weak_ptr<State>(state_), id] { EndOne(weak, id); });
  }
}

void OpenStreams::EndOne(const std::weak_ptr<State>& weak, uint64_t id) {
  auto state = weak.lock();
  if (!state) return;
  std::lock_guard<std::recursive_mutex> lock(state->mu);
  auto it = state->entries.find(id);
  if (it == state->entries.end() || !it->second.close) return;
  // Copied: ending may run OnDone inline, which erases the entry.
  const Closer close = it->second.close;
  close(core::OkStatus());
}

void OpenStreams::Remove(uint64_t id) {
  if (id == 0) return;
  std::lock_guard<std::recursive_mutex> lock(state_->mu);
  auto it = state_->entries.find(id);
  if (it == state_->entries.end()) return;
  if (it->second.age_task != 0) scheduler_->Cancel(it->second.age_task);
  state_->entries.erase(it);
}

void OpenStreams::CloseAll(const core::Status& status) {
  std::lock_guard<std::recursive_mutex> lock(state_->mu);
  state_->closed = true;
  state_->closed_with = status;
  EndAll(status);
}

void OpenStreams::EndAll(const core::Status& status) {
  std::lock_guard<std::recursive_mutex> lock(state_->mu);
  std::vector<Closer> closers;
  for (const auto& [id, entry] : state_->entries) {
    if (entry.close) closers.push_back(entry.close);
  }
  for (const auto& close : closers) close(status);
}

size_t OpenStreams::size() const {
  std::lock_guard<std::recursive_mutex> lock(state_->mu);
  return state_->entries.size();
}

}  // namespace jss::grpc_service
