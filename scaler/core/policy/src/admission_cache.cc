#include "jss/core/policy/admission_cache.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>

namespace jss::core {

std::shared_ptr<const ResolvedTrigger> AdmissionCache::Find(
    const std::string& key, const std::shared_ptr<const AccessPolicy>& policy) {
  std::lock_guard<std::mutex> lock(mu_);
  AdoptPolicyLocked(policy);
  auto it = entries_.find(key);
  return it == entries_.end() ? nullptr : it->second;
}

void AdmissionCache::Insert(std::string key, const std::shared_ptr<const AccessPolicy>& policy,
                            std::shared_ptr<const ResolvedTrigger> value) {
  if (key.empty() || key.size() > options_.max_key_bytes || options_.max_entries == 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  AdoptPolicyLocked(policy);
  if (entries_.size() >= options_.max_entries && entries_.count(key) == 0) entries_.clear();
  entries_[std::move(key)] = std::move(value);
}

size_t AdmissionCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

void AdmissionCache::AdoptPolicyLocked(const std::shared_ptr<const AccessPolicy>& policy) {
  if (policy_ == policy) return;
  entries_.clear();
  policy_ = policy;
}

void AdmissionKeyBuilder::Add(std::string_view key, std::string_view value) {
  if (count_ == kMaxEntries) {
    overflow_ = true;
    return;
  }
  entries_[count_++] = {key, value};
}

namespace {

// A length (4 bytes, little-endian) and the bytes, written at `p`.
char* PutField(char* p, std::string_view field) {
  const auto n = static_cast<uint32_t>(field.size());
  for (int i = 0; i < 4; ++i) *p++ = static_cast<char>((n >> (8 * i)) & 0xff);
  if (!field.empty()) std::memcpy(p, field.data(), field.size());
  return p + field.size();
}

}  // namespace

std::string AdmissionKeyBuilder::Build(TriggerUse use, std::string_view ns, std::string_view name,
                                       size_t max_bytes) {
  if (overflow_) return "";
  size_t bytes = 1 + 8 + ns.size() + name.size();
  for (size_t i = 0; i < count_; ++i) bytes += 8 + entries_[i].key.size() + entries_[i].value.size();
  if (bytes > max_bytes) return "";
  std::sort(entries_, entries_ + count_,
            [](const Entry& a, const Entry& b) { return a.key < b.key; });
  // Sized once and written in place: this runs on every call KEDA makes.
  std::string out(bytes, '\0');
  char* p = out.data();
  *p++ = use == TriggerUse::kPush ? 'p' : 'q';
  p = PutField(p, ns);
  p = PutField(p, name);
  for (size_t i = 0; i < count_; ++i) {
    p = PutField(p, entries_[i].key);
    p = PutField(p, entries_[i].value);
  }
  return out;
}

}  // namespace jss::core
