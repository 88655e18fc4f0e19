// How a build's new layer directories are put on disk before they are recorded: a few entries
// are fsynced each (a syncfs would also wait for every other dirty file of the file system),
// many with one syncfs; either way they end up under <root>/layers/<chain id>.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "oci/digest.h"
#include "oci/store.h"
#include "snapshot/layer_store.h"
#include "tests/support/harness.h"

namespace mkimg::snapshot {
namespace {

namespace fs = std::filesystem;
using mkimg::testing::TempDir;

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

/// The rel paths entries_to_fsync names in `dir`, in its order; {"none"} for nullopt.
std::vector<std::string> fsynced(const std::vector<fs::path>& dirs, const fs::path& dir) {
  auto each = entries_to_fsync(dirs);
  if (!each) return {"none"};
  std::vector<std::string> out;
  for (const auto& [d, rel] : *each) {
    if (d == dir) out.push_back(rel);
  }
  return out;
}

TEST(PendingLayers, AFewEntriesAreFsyncedEachDirectoriesAndRegularFilesOnly) {
  TempDir tmp;
  fs::path upper = tmp / "upper";
  write(upper / "etc/one-file", "changed\n");
  write(upper / "a", "x");
  fs::create_directory_symlink("/etc", upper / "link");    // not followed, not fsynced
  ASSERT_EQ(::mkfifo((upper / "fifo").c_str(), 0600), 0);  // opening it would block
  EXPECT_EQ(fsynced({upper}, upper), (std::vector<std::string>{"", "a", "etc", "etc/one-file"}));
}

TEST(PendingLayers, ManyEntriesAreLeftToOneSyncfs) {
  TempDir tmp;
  fs::path upper = tmp / "upper";
  for (std::size_t i = 0; i < kFsyncEachUpTo; ++i) write(upper / ("f" + std::to_string(i)), "x");
  EXPECT_EQ(fsynced({upper}, upper), std::vector<std::string>{"none"});  // 64 files and itself
  fs::remove(upper / "f0");
  EXPECT_EQ(fsynced({upper}, upper).size(), kFsyncEachUpTo);
}

TEST(PendingLayers, TheEntriesOfAllTheDirectoriesCount) {
  TempDir tmp;
  fs::path one = tmp / "one", two = tmp / "two";
  for (std::size_t i = 0; i < kFsyncEachUpTo / 2; ++i) {
    write(one / ("f" + std::to_string(i)), "x");
    write(two / ("f" + std::to_string(i)), "x");
  }
  EXPECT_EQ(fsynced({one}, one).size(), kFsyncEachUpTo / 2 + 1);
  EXPECT_EQ(fsynced({one, two}, one), std::vector<std::string>{"none"});
}

TEST(PendingLayers, RecordMovesSmallAndLargeLayersIntoTheStore) {
  TempDir tmp;
  oci::Store store = oci::Store::open(tmp / "store");
  std::string small = oci::sha256_of("small").str(), large = oci::sha256_of("large").str();
  fs::path small_upper = tmp / "store/tmp/small", large_upper = tmp / "store/tmp/large";
  write(small_upper / "etc/one-file", "changed\n");
  for (std::size_t i = 0; i < 2 * kFsyncEachUpTo; ++i) {
    write(large_upper / ("d" + std::to_string(i % 3)) / ("f" + std::to_string(i)), "x");
  }
  for (const auto* chain : {&small, &large}) {
    PendingLayers pending(store);
    pending.add(chain == &small ? small_upper : large_upper, *chain);
    ASSERT_TRUE(pending.find(*chain));
    pending.record();
    EXPECT_FALSE(pending.find(*chain));
  }
  std::ifstream in(layer_dir(store, small) / "etc/one-file");
  std::string text;
  std::getline(in, text);
  EXPECT_EQ(text, "changed");
  EXPECT_TRUE(fs::exists(layer_dir(store, large) / "d2/f2"));
  EXPECT_EQ(layer_dirs(store, large), std::vector<fs::path>{layer_dir(store, large)});
}

}  // namespace
}  // namespace mkimg::snapshot
