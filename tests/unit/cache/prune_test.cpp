// The local prune's choices (cache/prune.h) on a store made by hand: age, least recent use,
// layer blobs shared by entries or used by an image, damaged entries, a dry run, mark_used.
#include "cache/prune.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <ctime>
#include <filesystem>
#include <fstream>

#include "cache/cache_index.h"
#include "oci/media_types.h"
#include "oci/store.h"

namespace mkimg::cache {
namespace {

namespace fs = std::filesystem;

void set_age(const fs::path& p, std::int64_t seconds) {
  timespec times[2];
  times[0].tv_sec = times[1].tv_sec = std::time(nullptr) - seconds;
  times[0].tv_nsec = times[1].tv_nsec = 0;
  ASSERT_EQ(::utimensat(AT_FDCWD, p.c_str(), times, 0), 0) << p;
}

std::int64_t age_of(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return std::time(nullptr) - st.st_mtime;
}

class LocalPruneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mkimg-prune-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    store_ = std::make_unique<oci::Store>(oci::Store::open(dir_ / "store"));
    index_ = std::make_unique<CacheIndex>(store_->cache_dir());
  }
  void TearDown() override { fs::remove_all(dir_); }

  /// A layer blob of `size` bytes in the store.
  oci::Descriptor layer(char fill, std::size_t size) {
    return store_->put_blob(std::string(size, fill), oci::media_type::kOciLayer);
  }
  /// An entry for key `name` with `layer` (none when the digest is empty), used `days` ago.
  std::string entry(const std::string& name, const oci::Descriptor* layer, int days) {
    CacheEntry e;
    e.key = oci::sha256_of(name).str();
    if (layer) {
      e.layer_digest = layer->digest.str();
      e.layer_media_type = layer->media_type;
      e.layer_size = layer->size;
      e.diff_id = layer->digest.str();
    }
    e.created = "2024-01-01T00:00:00Z";
    e.part_digests = {{"instruction", oci::sha256_of(name).str()}};
    index_->put("", e);
    set_age(file(e.key, ".json"), days * 86400);
    set_age(file(e.key, ".parts"), days * 86400);
    return e.key;
  }
  fs::path file(const std::string& key, const char* ext) const {
    return store_->cache_dir() / "steps" / (key.substr(7) + ext);
  }
  std::set<std::string> keys() const {
    std::set<std::string> out;
    for (const auto& e : index_->stored()) out.insert(e.key);
    return out;
  }

  fs::path dir_;
  std::unique_ptr<oci::Store> store_;
  std::unique_ptr<CacheIndex> index_;
};

TEST_F(LocalPruneTest, KeepStorageCountsASharedLayerOnceAndNeverAnImagesLayer) {
  oci::Descriptor shared = layer('s', 10000), own = layer('o', 10000), image = layer('i', 10000);
  oci::ImageConfig config;
  config.architecture = "amd64";
  config.os = "linux";
  config.rootfs.diff_ids = {image.digest};
  store_->tag(oci::Reference::parse("app:1"), oci::write_image(*store_, config, {image}));
  std::string oldest = entry("image's step", &image, 5);
  std::string first = entry("first user of shared", &shared, 4);
  std::string second = entry("second user of shared", &shared, 3);
  std::string newest = entry("own", &own, 0);

  // What the cache holds: shared and own (20000 bytes) and the entries' files.
  LocalPruneReport dry = prune_local(*store_, {.limits = {.keep_storage = 12000}, .dry_run = true});
  ASSERT_EQ(dry.removed.size(), 3u);
  EXPECT_EQ(dry.removed[0].name, oldest);  // least recently used first
  EXPECT_EQ(dry.removed[1].name, first);
  EXPECT_EQ(dry.removed[2].name, second);
  EXPECT_GT(dry.removed[2].bytes, 10000) << "the shared layer goes with its last user";
  EXPECT_LT(dry.removed[1].bytes, 10000);
  EXPECT_LT(dry.removed[0].bytes, 10000) << "an image's layer is not the cache's";
  EXPECT_EQ(keys().size(), 4u) << "a dry run removes nothing";

  LocalPruneReport done = prune_local(*store_, {.limits = {.keep_storage = 12000}});
  EXPECT_EQ(done.entries, 3u);
  EXPECT_EQ(done.blobs, 1u);
  EXPECT_EQ(done.bytes, dry.bytes);
  EXPECT_LE(done.held, 12000);
  EXPECT_EQ(keys(), std::set<std::string>{newest});
  EXPECT_FALSE(store_->has_blob(shared.digest));
  EXPECT_TRUE(store_->has_blob(own.digest));
  EXPECT_TRUE(store_->has_blob(image.digest));
  EXPECT_NO_THROW(oci::load_image(*store_, "app:1"));
}

TEST_F(LocalPruneTest, OlderThanTakesDamagedEntriesAndLeftOverPartsAlike) {
  std::string kept = entry("recent", nullptr, 0);
  std::string old = entry("old", nullptr, 10);
  std::string damaged = oci::sha256_of("damaged").str();
  std::ofstream(file(damaged, ".json")) << "not json";
  set_age(file(damaged, ".json"), 10 * 86400);
  std::string orphan = oci::sha256_of("orphan").str();
  std::ofstream(file(orphan, ".parts")) << "{}";
  set_age(file(orphan, ".parts"), 10 * 86400);
  std::ofstream(store_->cache_dir() / "steps" / "README") << "not ours";

  LocalPruneReport r = prune_local(*store_, {.limits = {.older_than = std::chrono::hours(24 * 7)}});
  EXPECT_EQ(r.entries, 3u);
  EXPECT_EQ(keys(), std::set<std::string>{kept});
  EXPECT_FALSE(fs::exists(file(old, ".parts")));
  EXPECT_TRUE(fs::exists(store_->cache_dir() / "steps" / "README"));
}

TEST_F(LocalPruneTest, CacheMountsGoByAgeAndSize) {
  fs::path mounts = store_->cache_dir() / "mounts";
  fs::create_directories(mounts / "old" / "sub");
  std::ofstream(mounts / "old" / "sub" / "f") << std::string(5000, 'x');
  std::ofstream(mounts / "old.lock");
  fs::create_directories(mounts / "new");
  std::ofstream(mounts / "new" / "f") << std::string(3000, 'y');
  set_age(mounts / "old", 3 * 86400);

  LocalPruneReport r = prune_local(*store_, {.limits = {.older_than = std::chrono::hours(48)}});
  EXPECT_EQ(r.mounts, 1u);
  EXPECT_EQ(r.bytes, 5000);
  EXPECT_EQ(r.held, 3000);
  EXPECT_FALSE(fs::exists(mounts / "old"));
  EXPECT_FALSE(fs::exists(mounts / "old.lock"));
  EXPECT_TRUE(fs::exists(mounts / "new" / "f"));

  LocalPruneReport all = prune_local(*store_, {});
  EXPECT_EQ(all.mounts, 1u);
  EXPECT_TRUE(fs::is_empty(mounts));
}

TEST_F(LocalPruneTest, AHitMarksItsEntryUsedAtMostOnceAnHour) {
  std::string stale = entry("stale", nullptr, 0);
  std::string fresh = entry("fresh", nullptr, 0);
  set_age(file(stale, ".json"), 2 * 3600);
  set_age(file(fresh, ".json"), 1800);
  ASSERT_TRUE(index_->find(stale));
  ASSERT_TRUE(index_->find(fresh));
  EXPECT_LT(age_of(file(stale, ".json")), 60);
  EXPECT_GE(age_of(file(fresh, ".json")), 1800) << "used within the hour: nothing written";
}

}  // namespace
}  // namespace mkimg::cache
