#include "common/in_root.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

namespace mkimg {
namespace {

class RootPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mkimg-root-path-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::filesystem::create_directories(dir_ / "existing");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  struct stat stat_of(const std::string& rel) const {
    struct stat st {};
    EXPECT_EQ(::lstat((dir_ / rel).c_str(), &st), 0) << rel;
    return st;
  }

  std::filesystem::path dir_;
};

TEST_F(RootPathTest, CreatedDirectoriesBelongToTheOwnerAndExistingOnesAreLeftAlone) {
  if (::geteuid() != 0) GTEST_SKIP() << "chown needs root";
  UniqueFd root = open_root(dir_);
  UniqueFd made = make_dirs_in_root(root.get(), "/existing/a/b", DirOwner{1000, 100});
  ASSERT_TRUE(made.valid());
  EXPECT_EQ(stat_of("existing").st_uid, 0u);
  EXPECT_EQ(stat_of("existing/a").st_uid, 1000u);
  EXPECT_EQ(stat_of("existing/a/b").st_gid, 100u);
  EXPECT_EQ(stat_of("existing/a/b").st_mode & 07777, 0755u);
}

TEST_F(RootPathTest, WithoutAnOwnerDirectoriesAreRootOwned) {
  UniqueFd root = open_root(dir_);
  ASSERT_TRUE(make_dirs_in_root(root.get(), "x/y", DirOwner{}).valid());
  EXPECT_EQ(stat_of("x/y").st_uid, ::geteuid());
}

TEST_F(RootPathTest, SymlinksResolveInsideTheRoot) {
  std::filesystem::create_directory_symlink("/", dir_ / "up");
  UniqueFd root = open_root(dir_);
  ASSERT_TRUE(make_dirs_in_root(root.get(), "/up/inside", DirOwner{}).valid());
  EXPECT_TRUE(std::filesystem::is_directory(dir_ / "inside"));
}

}  // namespace
}  // namespace mkimg
