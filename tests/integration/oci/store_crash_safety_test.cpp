// A store survives `mkimg import` killed at any point, and concurrent imports: it still opens,
// `mkimg images` works, every blob matches its name, and concurrent imports are all tagged.
#include <signal.h>
#include <sys/mount.h>
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

// A store on a read-only file system (a CI cache restored read-only, a store mounted into a
// job) still serves what only reads it: images, inspect, history, and save in both formats,
// the archives byte for byte those of the writable store.
TEST(ReadOnlyStore, ReadingCommandsServeIt) {
  TempDir dir;
  fs::path store = dir / "store";
  make_busybox_root(dir / "rootfs");
  ASSERT_EQ(run_mkimg(store, {"import", (dir / "rootfs").string(), "app:v1"}).exit_code, 0);
  fs::path ro = dir / "ro";
  fs::create_directories(ro);
  ASSERT_EQ(run({"mount", "--bind", store.string(), ro.string()}).exit_code, 0);
  struct Unmount {
    fs::path p;
    ~Unmount() { ::umount2(p.c_str(), MNT_DETACH); }
  } unmount{ro};
  ASSERT_EQ(run({"mount", "-o", "remount,bind,ro", ro.string()}).exit_code, 0);
  for (std::vector<std::string> command :
       {std::vector<std::string>{"images"}, {"inspect", "app:v1"}, {"history", "app:v1"}}) {
    auto r = run_mkimg(ro, command);
    EXPECT_EQ(r.exit_code, 0) << command[0] << ": " << r.all();
    EXPECT_EQ(r.out, run_mkimg(store, command).out) << command[0];
  }
  for (const char* format : {"docker", "oci"}) {
    fs::path from_ro = dir / (std::string(format) + "-ro.tar");
    fs::path from_rw = dir / (std::string(format) + "-rw.tar");
    auto r = run_mkimg(ro, {"save", "--format", format, "-o", from_ro.string(), "app:v1"});
    ASSERT_EQ(r.exit_code, 0) << format << ": " << r.all();
    ASSERT_EQ(
        run_mkimg(store, {"save", "--format", format, "-o", from_rw.string(), "app:v1"}).exit_code,
        0);
    EXPECT_EQ(read_file(from_ro), read_file(from_rw)) << format;
  }
  auto tag = run_mkimg(ro, {"tag", "app:v1", "app:v2"});
  EXPECT_NE(tag.exit_code, 0) << "a command that writes fails, naming the store";
  EXPECT_NE(tag.err.find("Read-only file system"), std::string::npos) << tag.err;
}

}  // namespace
}  // namespace mkimg::testing
