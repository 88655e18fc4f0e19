#include "builder/cache_key.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "builder/cache_index.h"

namespace mkimg::builder {
namespace {

StepKey base() {
  return {"sha256:" + std::string(64, 'a'), {{"instruction", "RUN make"}, {"env", "A=1"}}};
}

TEST(CacheKey, SameInputsGiveTheSameKey) { EXPECT_EQ(compute_key(base()), compute_key(base())); }

TEST(CacheKey, EveryPartAndTheParentChangeTheKey) {
  std::string k = compute_key(base());
  auto a = base();
  a.parent = "sha256:" + std::string(64, 'b');
  EXPECT_NE(compute_key(a), k);
  auto b = base();
  b.parts[1].value = "A=2";
  EXPECT_NE(compute_key(b), k);
  auto c = base();
  c.parts[0].name = "other";
  EXPECT_NE(compute_key(c), k);
}

TEST(CacheKey, PartsAreLengthPrefixedSoBoundariesMatter) {
  StepKey a{"", {{"x", "ab"}, {"y", "c"}}};
  StepKey b{"", {{"x", "a"}, {"y", "bc"}}};
  EXPECT_NE(compute_key(a), compute_key(b));
}

TEST(CacheKey, KeyIsASha256Digest) {
  std::string k = compute_key(base());
  EXPECT_EQ(k.rfind("sha256:", 0), 0u);
  EXPECT_EQ(k.size(), 7u + 64u);
}

class CacheIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mkimg-cache-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(CacheIndexTest, StoredEntryIsFoundAgainByKey) {
  CacheIndex index(dir_);
  auto key = base();
  CacheEntry e;
  e.key = compute_key(key);
  e.layer_digest = "sha256:" + std::string(64, 'c');
  e.diff_id = "sha256:" + std::string(64, 'd');
  e.layer_size = 42;
  index.put(key.parent, e);
  auto found = CacheIndex(dir_).find(e.key);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->layer_digest, e.layer_digest);
  EXPECT_EQ(found->layer_size, 42);
  EXPECT_FALSE(index.find(compute_key(StepKey{"", {}})));
}

TEST_F(CacheIndexTest, MissIsExplainedByTheChangedPart) {
  CacheIndex index(dir_);
  auto key = base();
  CacheEntry e;
  e.key = compute_key(key);
  for (const auto& p : key.parts) e.part_digests.push_back({p.name, part_digest(p)});
  index.put(key.parent, e);
  auto changed = base();
  changed.parts[1].value = "A=2";
  std::string why = index.explain_miss(changed);
  EXPECT_NE(why.find("env"), std::string::npos) << why;
  EXPECT_EQ(why.find("instruction"), std::string::npos) << why;
  StepKey other{"sha256:" + std::string(64, 'e'), {}};
  EXPECT_NE(index.explain_miss(other).find("no earlier build"), std::string::npos);
}

TEST_F(CacheIndexTest, DamagedEntryIsAMissNotAFailure) {
  CacheIndex index(dir_);
  std::string key = "sha256:" + std::string(64, 'f');
  std::ofstream(dir_ / "steps" / (std::string(64, 'f') + ".json")) << "{not json";
  EXPECT_FALSE(index.find(key));
}

}  // namespace
}  // namespace mkimg::builder
