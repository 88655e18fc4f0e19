#include "cache/cache_key.h"

#include <gtest/gtest.h>

#include <algorithm>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "cache/cache_index.h"

namespace mkimg::cache {
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

/// The key of `COPY . /` of 100 files, one source part each.
StepKey copy_of_files(int count) {
  StepKey key{"", {{"instruction", "COPY . /"}}};
  for (int i = 0; i < count; ++i) key.parts.push_back({"source:/f" + std::to_string(i), "x"});
  return key;
}

StepKey copy_of_100_files() { return copy_of_files(100); }

/// An entry for `key` with the digests of its parts.
CacheEntry entry_for(const StepKey& key) {
  CacheEntry e;
  e.key = compute_key(key);
  for (const auto& p : key.parts) e.part_digests.push_back({p.name, part_digest(p)});
  return e;
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

TEST_F(CacheIndexTest, PartDigestsStayOutOfTheEntryAHitReads) {
  CacheIndex index(dir_);
  StepKey key = copy_of_100_files();
  CacheEntry e = entry_for(key);
  index.put(key.parent, e);
  std::string hex = e.key.substr(7);
  EXPECT_LT(std::filesystem::file_size(dir_ / "steps" / (hex + ".json")), 1000u);
  auto found = index.find(e.key);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->key, e.key);
  // A miss is still explained from the parts kept beside the entry.
  StepKey changed = key;
  changed.parts[42].value = "y";
  EXPECT_EQ(index.explain_miss(changed), "changed: source:/f41");
}

TEST_F(CacheIndexTest, AMissAmongAHundredThousandPartsIsExplainedInOneLine) {
  // An entry with a part a file (as mkimg wrote them before parts by directory): one name
  // compared with every other was 10^10 comparisons here, --explain never answered.
  CacheIndex index(dir_);
  StepKey key = copy_of_files(100000);
  index.put(key.parent, entry_for(key));
  StepKey changed = key;
  changed.parts[50001].value = "y";
  // Now explained by directory: the one new part, then twenty names in all, and a count of
  // the rest of the 100,000 that went.
  std::string why = index.explain_miss(changed);
  EXPECT_TRUE(why.starts_with("changed: sources:/, source:/f0 (removed), source:/f1 (removed)"))
      << why.substr(0, 300);
  EXPECT_TRUE(why.ends_with(" (removed) and 99981 more")) << why.substr(0, 300);
  EXPECT_EQ(std::count(why.begin(), why.end(), ','), 19) << why;
}

TEST_F(CacheIndexTest, ACopyOfThousandsOfFilesIsExplainedByDirectory) {
  StepKey key{"", {{"instruction", "COPY . /"}}};
  for (const char* dir : {"/a", "/b", "/c"}) {
    for (int i = 0; i < 500; ++i)
      key.parts.push_back({std::string("source:") + dir + "/f" + std::to_string(i), "x"});
  }
  key.parts.push_back({"source:/top", "y"});
  auto digests = part_digests(key);
  ASSERT_EQ(digests.size(), 5u);
  EXPECT_EQ(digests[0].name, "instruction");
  EXPECT_EQ(digests[1].name, "sources:/a/");
  EXPECT_EQ(digests[4].name, "sources:/");
  CacheIndex index(dir_);
  CacheEntry e;
  e.key = compute_key(key);
  e.part_digests = digests;
  index.put(key.parent, e);
  StepKey changed = key;
  changed.parts[1 + 500 + 7].value = "z";  // /b/f7
  EXPECT_EQ(index.explain_miss(changed), "changed: sources:/b/");
  StepKey renamed = key;
  renamed.parts[1 + 1000].name = "source:/c/g0";  // a file of /c renamed
  EXPECT_EQ(index.explain_miss(renamed), "changed: sources:/c/");
  // A few files keep a part each.
  EXPECT_EQ(part_digests(copy_of_100_files()).size(), 101u);
}

TEST(CacheKey, ManySourcePartsFoldIntoOneAndFewStayAsTheyAre) {
  std::vector<KeyPart> few{{"instruction", "i"}, {"source:/a", "1"}, {"source:/b", "2"}};
  EXPECT_EQ(fold_sources(few, 2).size(), 3u);
  auto folded = fold_sources(few, 1);
  ASSERT_EQ(folded.size(), 2u);
  EXPECT_EQ(folded[0].name, "instruction");
  EXPECT_EQ(folded[1].name, kFoldedSources);
  EXPECT_EQ(folded[1].value.rfind("sha256:", 0), 0u);
  auto changed = few;
  changed[2].value = "3";
  EXPECT_NE(fold_sources(changed, 1)[1].value, folded[1].value);
  auto renamed = few;
  renamed[2].name = "source:/c";
  EXPECT_NE(fold_sources(renamed, 1)[1].value, folded[1].value);
  EXPECT_EQ(fold_sources(few, 1)[1].value, folded[1].value);
}

TEST_F(CacheIndexTest, AnEntryWithFoldedSourcesExplainsAChangedSourceAsSources) {
  CacheIndex index(dir_);
  StepKey key = copy_of_100_files();
  CacheEntry e = entry_for(key);
  e.part_digests = fold_sources(e.part_digests, 64);
  index.put(key.parent, e);
  StepKey changed = key;
  changed.parts[42].value = "y";
  EXPECT_EQ(index.explain_miss(changed), "changed: sources");
  StepKey instruction = key;
  instruction.parts[0].value = "COPY . /app";
  EXPECT_EQ(index.explain_miss(instruction), "changed: instruction");
}

TEST_F(CacheIndexTest, OlderEntryWithItsPartsInsideIsFoundSplitAndExplains) {
  CacheIndex index(dir_);
  auto key = base();
  std::string k = compute_key(key);
  nlohmann::json parts = nlohmann::json::object();
  for (const auto& p : key.parts) parts[p.name] = part_digest(p);
  nlohmann::json old = {{"key", k},      {"layer_digest", ""}, {"media_type", ""}, {"size", 0},
                        {"diff_id", ""}, {"parts", parts},     {"created", ""}};
  std::ofstream(dir_ / "steps" / (k.substr(7) + ".json")) << old.dump();
  std::ofstream(dir_ / "children" / std::string(64, 'a')) << k;
  ASSERT_TRUE(index.find(k));
  auto changed = base();
  changed.parts[1].value = "A=2";
  EXPECT_EQ(index.explain_miss(changed), "changed: env");
  // The first hit moved the parts beside the entry; they still explain a miss.
  std::ifstream in(dir_ / "steps" / (k.substr(7) + ".json"));
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(text.find("parts"), std::string::npos) << text;
  EXPECT_TRUE(std::filesystem::exists(dir_ / "steps" / (k.substr(7) + ".parts")));
  ASSERT_TRUE(index.find(k));
  EXPECT_EQ(index.explain_miss(changed), "changed: env");
}

TEST_F(CacheIndexTest, DamagedEntryIsAMissNotAFailure) {
  CacheIndex index(dir_);
  std::string key = "sha256:" + std::string(64, 'f');
  std::ofstream(dir_ / "steps" / (std::string(64, 'f') + ".json")) << "{not json";
  EXPECT_FALSE(index.find(key));
}

}  // namespace
}  // namespace mkimg::cache
