// open_resolved, the one openat2 of mkimg: `..` and absolute symlinks stay in the root with
// RESOLVE_IN_ROOT, are refused with RESOLVE_BENEATH, and RESOLVE_NO_SYMLINKS refuses any symlink.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>

#include "common/in_root.h"
#include "common/temp_dir.h"

namespace mkimg {
namespace {

namespace fs = std::filesystem;

class OpenResolvedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // <tmp>/outside is a file beside the root; <tmp>/root/inside is one in it.
    std::ofstream(tmp_.path() / "outside") << "outside";
    fs::create_directory(root_path());
    std::ofstream(root_path() / "inside") << "inside";
    fs::create_symlink(tmp_.path() / "outside", root_path() / "absolute-out");
    fs::create_symlink("/inside", root_path() / "absolute-in");
    fs::create_symlink("../outside", root_path() / "relative-out");
    fs::create_symlink("inside", root_path() / "relative-in");
    root_ = open_root(root_path());
  }

  fs::path root_path() const { return tmp_.path() / "root"; }

  /// True when `fd` is the file `path`.
  static bool is_file(const UniqueFd& fd, const fs::path& path) {
    struct stat a {
    }, b{};
    return fd && ::fstat(fd.get(), &a) == 0 && ::stat(path.c_str(), &b) == 0 &&
           a.st_dev == b.st_dev && a.st_ino == b.st_ino;
  }

  /// errno of a failed open_resolved, or 0 when it opened.
  int fails_with(const std::string& path, std::uint64_t resolve) {
    UniqueFd fd = open_resolved(root_.get(), path, resolve, O_RDONLY);
    return fd ? 0 : errno;
  }

  TempDir tmp_{fs::temp_directory_path(), "mkimg-open-resolved-"};
  UniqueFd root_;
};

constexpr std::uint64_t kInRoot = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
constexpr std::uint64_t kBeneath = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;

TEST_F(OpenResolvedTest, InRootDotDotStopsAtTheRoot) {
  EXPECT_TRUE(
      is_file(open_resolved(root_.get(), "../inside", kInRoot, O_RDONLY), root_path() / "inside"));
  EXPECT_EQ(fails_with("../outside", kInRoot), ENOENT);
  EXPECT_EQ(fails_with("../../../../outside", kInRoot), ENOENT);
}

TEST_F(OpenResolvedTest, InRootAbsoluteSymlinksResolveInsideTheRoot) {
  EXPECT_TRUE(is_file(open_resolved(root_.get(), "absolute-in", kInRoot, O_RDONLY),
                      root_path() / "inside"));
  EXPECT_EQ(fails_with("absolute-out", kInRoot), ENOENT);  // <root>/<tmp>/outside: not there
  EXPECT_EQ(fails_with("relative-out", kInRoot), ENOENT);
}

TEST_F(OpenResolvedTest, BeneathRefusesDotDotAndAbsoluteSymlinks) {
  EXPECT_EQ(fails_with("../outside", kBeneath), EXDEV);
  EXPECT_EQ(fails_with("../inside", kBeneath), EXDEV);
  EXPECT_EQ(fails_with("absolute-in", kBeneath), EXDEV);
  EXPECT_EQ(fails_with("absolute-out", kBeneath), EXDEV);
  EXPECT_EQ(fails_with("relative-out", kBeneath), EXDEV);
  EXPECT_TRUE(is_file(open_resolved(root_.get(), "relative-in", kBeneath, O_RDONLY),
                      root_path() / "inside"));
}

TEST_F(OpenResolvedTest, NoSymlinksRefusesEverySymlink) {
  EXPECT_EQ(fails_with("relative-in", kBeneath | RESOLVE_NO_SYMLINKS), ELOOP);
  EXPECT_EQ(fails_with("absolute-in", kInRoot | RESOLVE_NO_SYMLINKS), ELOOP);
  EXPECT_EQ(fails_with("inside", kBeneath | RESOLVE_NO_SYMLINKS), 0);
}

TEST_F(OpenResolvedTest, EmptyPathIsTheDirectoryItself) {
  EXPECT_TRUE(is_file(open_resolved(root_.get(), "", kBeneath, O_PATH | O_DIRECTORY), root_path()));
}

TEST_F(OpenResolvedTest, ModeCountsOnlyWhenCreating) {
  // A mode without O_CREAT would make openat2 fail with EINVAL: it is left out.
  EXPECT_TRUE(open_resolved(root_.get(), "inside", kInRoot, O_RDONLY, 0644));
  mode_t saved = ::umask(022);
  UniqueFd made = open_resolved(root_.get(), "made", kInRoot, O_WRONLY | O_CREAT | O_EXCL, 0640);
  ::umask(saved);
  ASSERT_TRUE(made);
  struct stat st {};
  ASSERT_EQ(::fstat(made.get(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
}

TEST_F(OpenResolvedTest, OpenInRootDropsLeadingSlashes) {
  EXPECT_TRUE(is_file(open_in_root(root_.get(), "//inside", O_RDONLY), root_path() / "inside"));
  EXPECT_TRUE(is_file(open_in_root(root_.get(), "/", O_PATH | O_DIRECTORY), root_path()));
}

}  // namespace
}  // namespace mkimg
