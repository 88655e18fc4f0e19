// The store's step cache index (cache/cache_index.h): its files are renamed into place without
// a flush, so a power cut may leave any of them empty, cut short or zeroed. Each such file is a
// miss or a vaguer explanation, never a failure and never another entry.
#include "cache/cache_index.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/temp_dir.h"
#include "oci/digest.h"

namespace mkimg::cache {
namespace {

namespace fs = std::filesystem;

class TornCacheIndexTest : public ::testing::Test {
 protected:
  TornCacheIndexTest() : dir_("/tmp", "mkimg-cache-index-"), index_(dir_ / "cache") {}

  /// Puts an entry for step `key` on `parent` and returns it.
  CacheEntry put(const StepKey& key) {
    CacheEntry e;
    e.key = compute_key(key);
    e.layer_digest = oci::sha256_of("layer").str();
    e.layer_media_type = "application/vnd.oci.image.layer.v1.tar+gzip";
    e.layer_size = 5;
    e.diff_id = oci::sha256_of("tar").str();
    e.created = "2024-01-01T00:00:00Z";
    e.part_digests = part_digests(key);
    index_.put(key.parent, e);
    return e;
  }

  fs::path file(const std::string& key, const char* suffix) const {
    return dir_ / "cache" / "steps" / (key.substr(key.find(':') + 1) + suffix);
  }

  /// Replaces `path` with the first `keep` bytes of its text followed by `zeros` NUL bytes.
  static void tear(const fs::path& path, std::size_t keep, std::size_t zeros = 0) {
    std::string text;
    {
      std::ifstream in(path, std::ios::binary);
      text.assign(std::istreambuf_iterator<char>(in), {});
    }
    std::ofstream(path, std::ios::binary | std::ios::trunc)
        << text.substr(0, keep) << std::string(zeros, '\0');
  }

  TempDir dir_;
  CacheIndex index_;
  const std::string parent_ = oci::sha256_of("parent").str();
  const StepKey step_{parent_, {{"instruction", "RUN make"}, {"env", "A=1"}}};
};

TEST_F(TornCacheIndexTest, AnEntryIsFoundAsItWasPut) {
  CacheEntry e = put(step_);
  auto found = index_.find(e.key);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->layer_digest, e.layer_digest);
  EXPECT_EQ(found->diff_id, e.diff_id);
  EXPECT_EQ(index_.parts(e.key).size(), 2u);
}

TEST_F(TornCacheIndexTest, AnEntryAPowerCutToreIsAMiss) {
  CacheEntry e = put(step_);
  std::size_t size = fs::file_size(file(e.key, ".json"));
  for (std::size_t keep : {std::size_t{0}, std::size_t{1}, size / 2, size - 1}) {
    put(step_);
    tear(file(e.key, ".json"), keep);
    EXPECT_FALSE(index_.find(e.key)) << "cut to " << keep << " bytes";
  }
  put(step_);
  tear(file(e.key, ".json"), 0, 4096);  // blocks allocated, never written
  EXPECT_FALSE(index_.find(e.key));
  put(step_);
  EXPECT_TRUE(index_.find(e.key)) << "the next put of the key replaces a torn entry";
}

TEST_F(TornCacheIndexTest, TornPartsOrChildrenOnlyMakeTheExplanationVaguer) {
  CacheEntry e = put(step_);
  StepKey changed{parent_, {{"instruction", "RUN make"}, {"env", "A=2"}}};
  EXPECT_EQ(index_.explain_miss(changed), "changed: env");
  tear(file(e.key, ".parts"), 7);
  EXPECT_TRUE(index_.parts(e.key).empty());
  EXPECT_EQ(index_.explain_miss(changed), "changed: instruction, env");
  fs::path child = dir_ / "cache" / "children" / parent_.substr(7);
  ASSERT_TRUE(fs::exists(child));
  for (std::size_t keep : {0, 20}) {
    tear(child, keep);
    EXPECT_EQ(index_.explain_miss(changed), "no earlier build of a step on this parent");
  }
  tear(child, 0, 71);
  EXPECT_EQ(index_.explain_miss(changed), "no earlier build of a step on this parent");
  EXPECT_TRUE(index_.find(e.key)) << "the entry itself is whole";
}

}  // namespace
}  // namespace mkimg::cache
