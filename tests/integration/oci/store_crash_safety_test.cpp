// A store survives `mkimg import` killed at any point, and concurrent imports: it still opens,
// `mkimg images` works, every blob matches its name, and concurrent imports are all tagged.
#include <signal.h>
#include <unistd.h>

#include <random>

#include "tests/integration/oci/oci_helpers.h"

namespace mkimg::testing {
namespace {

/// Starts mkimg with its output dropped.
ChildProcess spawn_mkimg(const fs::path& root, std::vector<std::string> args) {
  args.insert(args.begin(), {mkimg_binary(), "--root", root.string()});
  return ChildProcess(args, "/dev/null");
}

/// A busybox root with some incompressible bulk, so an import takes long enough to be
/// interrupted in every phase (layer writing, commit, config, manifest, tag).
void make_big_root(const fs::path& dir) {
  make_busybox_root(dir);
  auto r =
      run({"sh", "-c", "head -c 8000000 /dev/urandom > '" + (dir / "bulk.bin").string() + "'"});
  ASSERT_EQ(r.exit_code, 0);
}

TEST(StoreCrashSafety, ImportKilledAtRandomPointsNeverBreaksTheStore) {
  TempDir dir;
  make_big_root(dir / "rootfs");
  fs::path root = dir / "store";
  auto first = run_mkimg(root, {"import", (dir / "rootfs").string(), "base:v1"});
  ASSERT_EQ(first.exit_code, 0) << first.all();
  std::mt19937 rng(12345);
  int killed = 0;
  for (int i = 0; i < 24; ++i) {
    ChildProcess import =
        spawn_mkimg(root, {"import", (dir / "rootfs").string(), "app:v" + std::to_string(i)});
    ::usleep(std::uniform_int_distribution<int>(0, 400000)(rng));
    if (::kill(import.pid(), SIGKILL) == 0) ++killed;
    import.wait();
    ASSERT_TRUE(corrupt_blobs(root).empty()) << "after kill " << i;
    auto names = image_names(root);
    ASSERT_FALSE(names.empty()) << "after kill " << i;
    EXPECT_EQ(names.front(), "base:v1");
  }
  EXPECT_GE(killed, 20);
  auto again = run_mkimg(root, {"import", (dir / "rootfs").string(), "after:crash"});
  EXPECT_EQ(again.exit_code, 0) << again.all();
  EXPECT_TRUE(fs::is_empty(root / "tmp"));  // leftovers were cleaned when the store opened
  EXPECT_TRUE(corrupt_blobs(root).empty());
}

TEST(StoreCrashSafety, TwoImportsAtOnceAreBothTagged) {
  TempDir dir;
  make_big_root(dir / "rootfs");
  make_busybox_root(dir / "small");
  fs::path root = dir / "store";
  for (int round = 0; round < 3; ++round) {
    std::string n = std::to_string(round);
    ChildProcess a = spawn_mkimg(root, {"import", (dir / "rootfs").string(), "one:" + n});
    ChildProcess b = spawn_mkimg(root, {"import", (dir / "small").string(), "two:" + n});
    ASSERT_EQ(a.wait(), 0);
    ASSERT_EQ(b.wait(), 0);
  }
  auto names = image_names(root);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names,
            (std::vector<std::string>{"one:0", "one:1", "one:2", "two:0", "two:1", "two:2"}));
  EXPECT_TRUE(corrupt_blobs(root).empty());
}

// A store whose tmp/, layers/ or oci/blobs/sha256/ is a symlink is refused on open, naming the
// link; the link's target, outside the store, keeps every file (open empties tmp/ and prune
// collects layers/ and blobs: they deleted what the link pointed at).
TEST(StoreSymlinks, ASymlinkedStoreDirectoryIsRefusedAndItsTargetKept) {
  for (const char* sub : {"tmp", "layers", "oci/blobs/sha256"}) {
    TempDir dir;
    fs::path store = dir / "store";
    ASSERT_EQ(run_mkimg(store, {"images"}).exit_code, 0);
    fs::path outside = dir / "precious";
    fs::create_directories(outside);
    write_file(outside / "keep.txt", "mine\n");
    fs::remove_all(store / sub);
    fs::create_directory_symlink(outside, store / sub);
    for (const char* command : {"images", "prune"}) {
      auto r = run_mkimg(store, {command});
      EXPECT_NE(r.exit_code, 0) << sub << " " << command << ": " << r.all();
      EXPECT_NE(r.err.find((store / sub).string() + "` is a symlink"), std::string::npos) << r.err;
      EXPECT_TRUE(fs::exists(outside / "keep.txt")) << sub << " " << command;
    }
  }
}

}  // namespace
}  // namespace mkimg::testing
