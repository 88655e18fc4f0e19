// The content store: verified blobs, tags in index.json, resolve, gc.
#include "oci/store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>

#include "common/error.h"
#include "oci/media_types.h"

using namespace mkimg::oci;
namespace fs = std::filesystem;

namespace {

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "mkimg-store-XXXXXX").string();
    dir_ = ::mkdtemp(tmpl.data());
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path root() const { return dir_ / "store"; }

  Descriptor make_image(const Store& store, const std::string& layer_content) {
    Descriptor layer = store.put_blob(layer_content, media_type::kOciLayer);
    ImageConfig config;
    config.architecture = host_platform().architecture;
    config.os = "linux";
    config.rootfs.diff_ids = {layer.digest};
    return write_image(store, config, {layer});
  }

  fs::path dir_;
};

}  // namespace

TEST_F(StoreTest, OpenCreatesAnOciLayoutWithPrivateDirectories) {
  Store store = Store::open(root());
  EXPECT_TRUE(fs::exists(root() / "oci/oci-layout"));
  EXPECT_TRUE(fs::exists(root() / "oci/index.json"));
  EXPECT_EQ(fs::status(root()).permissions() & fs::perms::all, fs::perms::owner_all);
  EXPECT_EQ(fs::status(root() / "tmp").permissions() & fs::perms::all, fs::perms::owner_all);
  EXPECT_TRUE(store.list().empty());
}

// tmp/ and layers/ hold independent trees: marked as tops of hierarchies (chattr +T) so ext4
// spreads them over block groups (see create_layout), where the file system has the flag.
TEST_F(StoreTest, TmpAndLayersAreTopDirectories) {
  Store store = Store::open(root());
  auto flags = [](const fs::path& p) -> std::optional<int> {
    int fd = ::open(p.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int f = 0;
    bool ok = fd >= 0 && ::ioctl(fd, FS_IOC_GETFLAGS, &f) == 0;
    if (fd >= 0) ::close(fd);
    return ok ? std::optional<int>(f) : std::nullopt;
  };
  auto oci = flags(root() / "oci");
  if (!oci) GTEST_SKIP() << "no inode flags on this file system";
  EXPECT_FALSE(*oci & FS_TOPDIR_FL);
  for (const char* sub : {"tmp", "layers"}) {
    auto f = flags(root() / sub);
    ASSERT_TRUE(f) << sub;
    EXPECT_TRUE(*f & FS_TOPDIR_FL) << sub;
  }
}

TEST_F(StoreTest, PutBlobStoresContentUnderItsDigest) {
  Store store = Store::open(root());
  Descriptor d = store.put_blob("hello", "text/plain");
  EXPECT_EQ(d.digest, sha256_of("hello"));
  EXPECT_EQ(d.size, 5);
  EXPECT_TRUE(store.has_blob(d.digest));
  EXPECT_EQ(store.read_blob(d.digest), "hello");
  EXPECT_EQ(store.blob_path(d.digest), root() / "oci/blobs/sha256" / d.digest.encoded());
}

TEST_F(StoreTest, BlobWriterRefusesAMismatchedDigestAndLeavesNothing) {
  Store store = Store::open(root());
  BlobWriter w = store.begin_blob();
  w.write("actual content");
  EXPECT_THROW(w.commit("x", {.digest = sha256_of("other")}), mkimg::Error);
  EXPECT_FALSE(store.has_blob(sha256_of("actual content")));
  EXPECT_FALSE(store.has_blob(sha256_of("other")));
}

TEST_F(StoreTest, BlobWriterRefusesAWrongSize) {
  Store store = Store::open(root());
  BlobWriter w = store.begin_blob();
  w.write("abc");
  EXPECT_THROW(w.commit("x", {.size = 4}), mkimg::Error);
  EXPECT_FALSE(store.has_blob(sha256_of("abc")));
}

TEST_F(StoreTest, AbandonedWriterRemovesItsTempFile) {
  Store store = Store::open(root());
  {
    BlobWriter w = store.begin_blob();
    w.write(std::string(3 << 20, 'z'));
  }
  EXPECT_TRUE(fs::is_empty(store.tmp_dir()));
}

TEST_F(StoreTest, CommitFileChecksTheDigestAndRequiresTmp) {
  Store store = Store::open(root());
  fs::path file = store.temp_path("layer");
  std::ofstream(file) << "layer bytes";
  EXPECT_THROW(store.commit_file(file, sha256_of("nope")), mkimg::Error);
  EXPECT_EQ(store.commit_file(file, sha256_of("layer bytes")), 11);
  EXPECT_EQ(store.read_blob(sha256_of("layer bytes")), "layer bytes");
  fs::path outside = dir_ / "outside";
  std::ofstream(outside) << "x";
  EXPECT_THROW(store.commit_file(outside, sha256_of("x")), mkimg::Error);
}

TEST_F(StoreTest, TagResolveAndUntag) {
  Store store = Store::open(root());
  Descriptor m = make_image(store, "layer-1");
  store.tag(Reference::parse("app:v1"), m);
  EXPECT_EQ(store.resolve("app:v1")->digest, m.digest);
  EXPECT_EQ(store.resolve("docker.io/library/app:v1")->digest, m.digest);
  EXPECT_EQ(store.resolve(m.digest.str())->digest, m.digest);
  Image image = load_image(store, "app:v1");
  EXPECT_EQ(store.resolve(image.manifest.config.digest.short_id())->digest, m.digest);
  EXPECT_FALSE(store.resolve("app:v2"));
  EXPECT_TRUE(store.untag(Reference::parse("app:v1")));
  EXPECT_FALSE(store.resolve("app:v1"));
  EXPECT_FALSE(store.untag(Reference::parse("app:v1")));
}

TEST_F(StoreTest, TagsAreFamiliarRefNameAnnotations) {
  Store store = Store::open(root());
  store.tag(Reference::parse("docker.io/library/app:v1"), make_image(store, "l"));
  std::ifstream in(root() / "oci/index.json");
  std::string index((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(index.find(R"("org.opencontainers.image.ref.name":"app:v1")"), std::string::npos);
}

TEST_F(StoreTest, RetaggingMovesTheTag) {
  Store store = Store::open(root());
  Descriptor a = make_image(store, "a"), b = make_image(store, "b");
  store.tag(Reference::parse("app:v1"), a);
  store.tag(Reference::parse("app:v1"), b);
  ASSERT_EQ(store.list().size(), 1u);
  EXPECT_EQ(store.resolve("app:v1")->digest, b.digest);
}

/// index.json's inode and modification time: what a rewrite (temp file + rename) changes.
std::pair<ino_t, struct timespec> index_identity(const fs::path& root) {
  struct stat st {};
  EXPECT_EQ(::stat((root / "oci/index.json").c_str(), &st), 0);
  return {st.st_ino, st.st_mtim};
}

bool same(const std::pair<ino_t, struct timespec>& a, const std::pair<ino_t, struct timespec>& b) {
  return a.first == b.first && a.second.tv_sec == b.second.tv_sec &&
         a.second.tv_nsec == b.second.tv_nsec;
}

TEST_F(StoreTest, TaggingAgainWithTheSameImageLeavesIndexJsonAlone) {
  Store store = Store::open(root());
  Descriptor a = make_image(store, "a"), b = make_image(store, "b");
  store.tag(Reference::parse("app:v1"), a);
  store.tag(Reference::parse("app:v2"), b);  // app:v1 is no longer the last entry
  store.add_untagged(b);
  auto before = index_identity(root());
  store.tag(Reference::parse("app:v1"), a);
  store.tag(Reference::parse("app:v2"), b);
  store.add_untagged(a);
  EXPECT_TRUE(same(index_identity(root()), before)) << "a no-op tag rewrote index.json";
  ASSERT_EQ(store.list().size(), 2u);
  EXPECT_EQ(store.list()[0].reference->familiar(), "app:v1") << "the tag kept its place";

  store.tag(Reference::parse("app:v1"), b);  // a real change is still written
  EXPECT_FALSE(same(index_identity(root()), before));
  EXPECT_EQ(store.resolve("app:v1")->digest, b.digest);
  ASSERT_EQ(store.list().size(), 2u);
}

TEST_F(StoreTest, TaggingAnImageKnownUntaggedReplacesTheUntaggedEntry) {
  Store store = Store::open(root());
  Descriptor a = make_image(store, "a");
  store.add_untagged(a);
  store.tag(Reference::parse("app:v1"), a);
  ASSERT_EQ(store.list().size(), 1u);
  EXPECT_TRUE(store.list()[0].reference);
}

TEST_F(StoreTest, GcRemovesOnlyUnreachableBlobs) {
  Store store = Store::open(root());
  Descriptor kept = make_image(store, "kept layer");
  Descriptor dropped = make_image(store, "dropped layer");
  Descriptor extra = store.put_blob("cache layer", media_type::kOciLayer);
  store.tag(Reference::parse("app:kept"), kept);
  GcResult r = store.gc({.keep = {extra.digest}});
  EXPECT_EQ(r.blobs_removed, 3u);  // manifest, config and layer of `dropped`
  EXPECT_FALSE(store.has_blob(dropped.digest));
  EXPECT_FALSE(store.has_blob(sha256_of("dropped layer")));
  EXPECT_TRUE(store.has_blob(extra.digest));
  EXPECT_NO_THROW(load_image(store, "app:kept"));
}

TEST_F(StoreTest, GcWithChooseRemovesOnlyTheChosenBlobsNoImageReaches) {
  Store store = Store::open(root());
  Descriptor kept = make_image(store, "kept layer");
  Descriptor untagged = make_image(store, "untagged layer");
  store.tag(Reference::parse("app:kept"), kept);
  store.add_untagged(untagged);
  Descriptor chosen = store.put_blob("chosen cache layer", media_type::kOciLayer);
  Descriptor other = store.put_blob("another unreached blob", media_type::kOciLayer);
  std::size_t reached_size = 0;
  GcResult r = store.gc({.choose = [&](const std::unordered_set<Digest>& reached) {
    reached_size = reached.size();
    EXPECT_TRUE(reached.contains(sha256_of("untagged layer")));
    return std::vector<Digest>{chosen.digest, sha256_of("kept layer"), sha256_of("untagged layer"),
                               chosen.digest};
  }});
  EXPECT_EQ(reached_size, 6u);  // two manifests, two configs, two layers
  EXPECT_EQ(r.blobs_removed, 1u);
  EXPECT_EQ(r.bytes_removed, static_cast<std::int64_t>(std::string("chosen cache layer").size()));
  EXPECT_FALSE(store.has_blob(chosen.digest));
  EXPECT_TRUE(store.has_blob(other.digest)) << "not chosen: left to `mkimg prune`";
  EXPECT_NO_THROW(load_image(store, "app:kept"));
  EXPECT_NO_THROW(load_image(store, untagged));
}

TEST_F(StoreTest, OpenCleansTmpOnlyWhenNobodyElseHasTheStore) {
  {
    Store store = Store::open(root());
    std::ofstream(store.tmp_dir() / "leftover") << "x";
  }
  Store first = Store::open(root());
  EXPECT_FALSE(fs::exists(first.tmp_dir() / "leftover"));
  std::ofstream(first.tmp_dir() / "in-use") << "x";
  pid_t child = ::fork();
  if (child == 0) {
    Store second = Store::open(root());
    ::_exit(fs::exists(second.tmp_dir() / "in-use") ? 0 : 1);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST_F(StoreTest, TwoProcessesTaggingConcurrentlyKeepAllTags) {
  { Store::open(root()); }
  std::vector<pid_t> children;
  for (int p = 0; p < 4; ++p) {
    pid_t child = ::fork();
    if (child == 0) {
      Store store = Store::open(root());
      for (int i = 0; i < 10; ++i) {
        std::string name = "app:p" + std::to_string(p) + "-" + std::to_string(i);
        store.tag(Reference::parse(name), make_image(store, name));
      }
      ::_exit(0);
    }
    children.push_back(child);
  }
  for (pid_t c : children) {
    int status = 0;
    ::waitpid(c, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  Store store = Store::open(root());
  EXPECT_EQ(store.list().size(), 40u);
}

TEST_F(StoreTest, CorruptIndexGivesAClearError) {
  { Store::open(root()); }
  std::ofstream(root() / "oci/index.json") << "{not json";
  Store store = Store::open(root());
  try {
    store.list();
    FAIL();
  } catch (const mkimg::Error& e) {
    EXPECT_NE(std::string(e.what()).find("index.json"), std::string::npos);
  }
}
