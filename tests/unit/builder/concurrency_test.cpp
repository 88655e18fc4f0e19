// What stages built at the same time share: the layer store (one unpack of a base layer that
// two stages need at once), the context hash memo and the cache index, used from threads.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "builder/context_hash.h"
#include "cache/cache_index.h"
#include "common/fd.h"
#include "oci/digest.h"
#include "oci/store.h"
#include "snapshot/layer_store.h"
#include "snapshot/layer_writer.h"

namespace mkimg::builder {
namespace {

namespace fs = std::filesystem;
constexpr int kThreads = 8;

class ConcurrencyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "mkimg-concurrency-XXXXXX").string();
    dir_ = ::mkdtemp(tmpl.data());
  }
  void TearDown() override { fs::remove_all(dir_); }

  static void write(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
  }

  /// Runs `fn(thread number)` on kThreads threads started together.
  template <typename Fn>
  static void on_threads(Fn fn) {
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) threads.emplace_back([&fn, t] { fn(t); });
    for (auto& t : threads) t.join();
  }

  fs::path dir_;
};

TEST_F(ConcurrencyTest, StagesUnpackingTheSameBaseLayerAtOnceGetOneDirectory) {
  oci::Store store = oci::Store::open(dir_ / "store");
  for (int i = 0; i < 200; ++i) {
    write(dir_ / "tree" / ("d" + std::to_string(i % 10)) / ("f" + std::to_string(i)),
          std::string(1000 + i, 'x'));
  }
  auto blob = snapshot::write_layer_from_dir(dir_ / "tree", store.temp_path("layer"),
                                             snapshot::LayerOptions{});
  store.commit_file(blob.file, oci::Digest::parse(blob.digest));
  oci::Descriptor layer;
  layer.digest = oci::Digest::parse(blob.digest);
  layer.size = blob.size;
  layer.media_type = blob.media_type;
  std::vector<std::vector<fs::path>> got(kThreads);
  std::vector<std::string> errors(kThreads);
  on_threads([&](int t) {
    try {
      got[t] = snapshot::ensure_unpacked(store, layer, blob.diff_id, blob.diff_id);
    } catch (const std::exception& e) {
      errors[t] = e.what();
    }
  });
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(errors[t], "");
    EXPECT_EQ(got[t], std::vector<fs::path>{snapshot::layer_dir(store, blob.diff_id)});
  }
  ASSERT_EQ(got[0].size(), 1u);
  EXPECT_EQ(fs::file_size(got[0][0] / "d3" / "f13"), 1013u);
  int entries = 0;
  for (const auto& e : fs::directory_iterator(store.layers_dir())) {
    ++entries;
    EXPECT_EQ(e.path(), got[0][0]) << "a half-unpacked or duplicate directory is left";
  }
  EXPECT_EQ(entries, 1);
}

TEST_F(ConcurrencyTest, ContextHasherGivesEveryThreadTheSameDigests) {
  for (int i = 0; i < 50; ++i)
    write(dir_ / "ctx" / std::to_string(i), std::string(i * 100, 'a' + i % 26));
  ContextHasher hasher(dir_ / "memos", dir_ / "ctx");
  std::vector<std::vector<std::string>> got(kThreads);
  on_threads([&](int t) {
    for (int i = 0; i < 50; ++i) {
      fs::path p = dir_ / "ctx" / std::to_string(i);
      UniqueFd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
      struct stat st {};
      ASSERT_EQ(::fstat(fd.get(), &st), 0);
      got[t].push_back(hasher.hash(std::to_string(i), fd.get(), st));
    }
  });
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(got[t], got[0]);
  EXPECT_EQ(got[0][3], oci::sha256_of(std::string(300, 'd')).str());
  hasher.save();
  ContextHasher again(dir_ / "memos", dir_ / "ctx");
  fs::path p = dir_ / "ctx" / "7";
  UniqueFd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st {};
  ASSERT_EQ(::fstat(fd.get(), &st), 0);
  EXPECT_EQ(again.hash("7", fd.get(), st), got[0][7]);
  EXPECT_EQ(again.files_read(), 0) << "the memo written after concurrent use is whole";
}

TEST_F(ConcurrencyTest, CacheIndexEntriesPutFromThreadsAreAllFound) {
  cache::CacheIndex index(dir_ / "cache");
  on_threads([&](int t) {
    for (int i = 0; i < 20; ++i) {
      cache::CacheEntry e;
      e.key = oci::sha256_of("key " + std::to_string(t) + " " + std::to_string(i)).str();
      e.diff_id = "d" + std::to_string(t * 100 + i);
      index.put(oci::sha256_of("parent").str(), e);
    }
  });
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < 20; ++i) {
      auto e =
          index.find(oci::sha256_of("key " + std::to_string(t) + " " + std::to_string(i)).str());
      ASSERT_TRUE(e.has_value());
      EXPECT_EQ(e->diff_id, "d" + std::to_string(t * 100 + i));
    }
  }
}

}  // namespace
}  // namespace mkimg::builder
