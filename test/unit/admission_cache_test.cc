#include "jss/core/policy/admission_cache.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

namespace jss::core {
namespace {

std::string KeyOf(TriggerUse use, std::string_view ns, std::string_view name,
                  const std::map<std::string, std::string>& metadata, size_t max_bytes = 1024) {
  AdmissionKeyBuilder b;
  for (const auto& [k, v] : metadata) b.Add(k, v);
  return b.Build(use, ns, name, max_bytes);
}

std::shared_ptr<const ResolvedTrigger> Resolved(const std::string& stream) {
  auto r = std::make_shared<ResolvedTrigger>();
  r->metadata.stream = stream;
  r->key = ConsumerKey{"default", stream, "c"};
  return r;
}

std::shared_ptr<const AccessPolicy> Policy() {
  return std::make_shared<const AccessPolicy>(AccessPolicy::AllowAll());
}

TEST(AdmissionKeyTest, SameRequestSameKeyWhateverTheOrder) {
  AdmissionKeyBuilder a, b;
  a.Add("stream", "S");
  a.Add("consumer", "C");
  b.Add("consumer", "C");
  b.Add("stream", "S");
  EXPECT_EQ(a.Build(TriggerUse::kPolling, "ns", "so", 1024),
            b.Build(TriggerUse::kPolling, "ns", "so", 1024));
}

TEST(AdmissionKeyTest, EveryPartOfTheRequestChangesTheKey) {
  const std::map<std::string, std::string> md{{"stream", "S"}, {"consumer", "C"}};
  const std::string base = KeyOf(TriggerUse::kPolling, "ns", "so", md);
  ASSERT_FALSE(base.empty());
  EXPECT_NE(base, KeyOf(TriggerUse::kPush, "ns", "so", md));
  EXPECT_NE(base, KeyOf(TriggerUse::kPolling, "ns2", "so", md));
  EXPECT_NE(base, KeyOf(TriggerUse::kPolling, "ns", "so2", md));
  EXPECT_NE(base, KeyOf(TriggerUse::kPolling, "ns", "so", {{"stream", "S"}, {"consumer", "D"}}));
  EXPECT_NE(base, KeyOf(TriggerUse::kPolling, "ns", "so",
                        {{"stream", "S"}, {"consumer", "C"}, {"lagThreshold", "5"}}));
  // Length prefixes: moving bytes between fields is another request.
  EXPECT_NE(KeyOf(TriggerUse::kPolling, "ab", "c", md), KeyOf(TriggerUse::kPolling, "a", "bc", md));
  EXPECT_NE(KeyOf(TriggerUse::kPolling, "ns", "so", {{"ab", "c"}}),
            KeyOf(TriggerUse::kPolling, "ns", "so", {{"a", "bc"}}));
}

TEST(AdmissionKeyTest, RequestsTooLargeOrWithTooManyKeysAreNotCached) {
  EXPECT_EQ(KeyOf(TriggerUse::kPolling, std::string(2000, 'n'), "so", {}), "");
  EXPECT_EQ(KeyOf(TriggerUse::kPolling, "ns", "so", {{"stream", std::string(100, 's')}}, 64), "");
  std::map<std::string, std::string> many;
  for (size_t i = 0; i <= AdmissionKeyBuilder::kMaxEntries; ++i) many["k" + std::to_string(i)] = "v";
  EXPECT_EQ(KeyOf(TriggerUse::kPolling, "ns", "so", many), "");
}

TEST(AdmissionCacheTest, HitOnlyUnderThePolicyTheEntryWasResolvedWith) {
  AdmissionCache cache;
  auto p1 = Policy();
  cache.Insert("k", p1, Resolved("S"));
  ASSERT_NE(cache.Find("k", p1), nullptr);
  EXPECT_EQ(cache.Find("k", p1)->metadata.stream, "S");
  EXPECT_EQ(cache.Find("other", p1), nullptr);
  auto p2 = Policy();  // a reload: same content, another version
  EXPECT_EQ(cache.Find("k", p2), nullptr);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.Find("k", p1), nullptr);  // and the old one's entries are gone for good
}

TEST(AdmissionCacheTest, BoundedInEntriesAndKeyBytes) {
  AdmissionCache cache(AdmissionCache::Options{3, 16});
  auto p = Policy();
  cache.Insert(std::string(17, 'k'), p, Resolved("S"));
  EXPECT_EQ(cache.size(), 0u);
  cache.Insert("", p, Resolved("S"));
  EXPECT_EQ(cache.size(), 0u);
  for (const char* k : {"a", "b", "c"}) cache.Insert(k, p, Resolved(k));
  EXPECT_EQ(cache.size(), 3u);
  cache.Insert("c", p, Resolved("c2"));  // a replacement does not count as new
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.Find("c", p)->metadata.stream, "c2");
  cache.Insert("d", p, Resolved("d"));  // full: emptied, then d
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_NE(cache.Find("d", p), nullptr);
  EXPECT_EQ(cache.Find("a", p), nullptr);
}

}  // namespace
}  // namespace jss::core
