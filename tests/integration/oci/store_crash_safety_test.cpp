// A store survives `mkimg import` killed at any point, and concurrent imports: it still opens,
// `mkimg images` works, every blob matches its name, and concurrent imports are all tagged.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <random>

#include "tests/integration/oci/oci_helpers.h"

namespace mkimg::testing {
namespace {

pid_t spawn(const std::vector<std::string>& argv) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    ::dup2(null, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

int wait_for(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
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
    pid_t pid = spawn({mkimg_binary(), "--root", root.string(), "import", (dir / "rootfs").string(),
                       "app:v" + std::to_string(i)});
    ::usleep(std::uniform_int_distribution<int>(0, 400000)(rng));
    if (::kill(pid, SIGKILL) == 0) ++killed;
    wait_for(pid);
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
    pid_t a = spawn(
        {mkimg_binary(), "--root", root.string(), "import", (dir / "rootfs").string(), "one:" + n});
    pid_t b = spawn(
        {mkimg_binary(), "--root", root.string(), "import", (dir / "small").string(), "two:" + n});
    int sa = wait_for(a), sb = wait_for(b);
    ASSERT_TRUE(WIFEXITED(sa) && WEXITSTATUS(sa) == 0);
    ASSERT_TRUE(WIFEXITED(sb) && WEXITSTATUS(sb) == 0);
  }
  auto names = image_names(root);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names,
            (std::vector<std::string>{"one:0", "one:1", "one:2", "two:0", "two:1", "two:2"}));
  EXPECT_TRUE(corrupt_blobs(root).empty());
}

}  // namespace
}  // namespace mkimg::testing
