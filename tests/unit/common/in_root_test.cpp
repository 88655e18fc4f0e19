#include "common/in_root.h"

#include "common/error.h"

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

TEST_F(RootPathTest, DanglingSymlinksLeadToTheirTargetWhichIsCreated) {
  std::filesystem::create_directory_symlink("/nowhere", dir_ / "abs");
  std::filesystem::create_directory_symlink("../../gone", dir_ / "existing/rel");
  UniqueFd root = open_root(dir_);
  EXPECT_EQ(resolve_in_root(root.get(), "/abs/x"), "/nowhere/x");
  EXPECT_EQ(resolve_in_root(root.get(), "existing/rel/y/./z/.."), "/gone/y");
  ASSERT_TRUE(make_dirs_in_root(root.get(), "/abs/x", DirOwner{}).valid());
  ASSERT_TRUE(make_dirs_in_root(root.get(), "/existing/rel/y", DirOwner{}).valid());
  EXPECT_TRUE(std::filesystem::is_directory(dir_ / "nowhere/x"));
  EXPECT_TRUE(std::filesystem::is_directory(dir_ / "gone/y"));
  EXPECT_TRUE(std::filesystem::is_symlink(dir_ / "abs"));
}

TEST_F(RootPathTest, ResolvingStaysInTheRootAndStopsAtALoop) {
  std::filesystem::create_directory_symlink("../../../..", dir_ / "existing/up");
  std::filesystem::create_symlink("loop2", dir_ / "loop1");
  std::filesystem::create_symlink("loop1", dir_ / "loop2");
  UniqueFd root = open_root(dir_);
  EXPECT_EQ(resolve_in_root(root.get(), "/existing/up/etc/passwd"), "/etc/passwd");
  EXPECT_EQ(resolve_in_root(root.get(), "/"), "/");
  EXPECT_EQ(resolve_in_root(root.get(), "/../.."), "/");
  EXPECT_THROW(resolve_in_root(root.get(), "/loop1/x"), Error);
}

// A /proc/sys file has no size and answers only a read at offset 0: the whole value is read.
TEST_F(RootPathTest, AnAtomicWriteReplacesTheFileAndLeavesNoTemporaryFile) {
  std::filesystem::create_directories(dir_ / "tmp");
  std::filesystem::path target = dir_ / "existing" / "index.json";
  write_file_atomic(target, "old");
  write_file_atomic(target, "new", Flush::kWithDirectory, dir_ / "tmp");
  EXPECT_EQ(read_host_file(target), "new");
  EXPECT_TRUE(std::filesystem::is_empty(dir_ / "tmp"));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_ / "existing"),
                          std::filesystem::directory_iterator()),
            1);
  write_file_atomic(dir_ / "secret", "token", Flush::kNo, {}, 0600);
  EXPECT_EQ(stat_of("secret").st_mode & 07777, 0600u);
}

TEST_F(RootPathTest, AFailedAtomicWriteNamesThePathAndLeavesTheOldFileAndNoTemporaryFile) {
  std::filesystem::path target = dir_ / "existing" / "sub";
  std::filesystem::create_directories(target / "child");  // a directory: the rename fails
  try {
    write_file_atomic(target, "bytes", Flush::kWithDirectory, dir_ / "existing");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(target.string()), std::string::npos) << e.what();
  }
  EXPECT_TRUE(std::filesystem::is_directory(target / "child"));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_ / "existing"),
                          std::filesystem::directory_iterator()),
            1);
}

TEST_F(RootPathTest, AnAtomicFileNotCommittedLeavesTheOldFileAndNoTemporaryFile) {
  std::filesystem::path target = dir_ / "existing" / "archive.tar";
  write_file_atomic(target, "old");
  {
    AtomicFile file(target);
    ASSERT_EQ(::write(file.fd(), "partial", 7), 7);
    EXPECT_EQ(file.temp_path().parent_path(), target.parent_path());
  }  // an error before commit()
  EXPECT_EQ(read_host_file(target), "old");
  {
    AtomicFile file(target);
    ASSERT_EQ(::write(file.fd(), "whole", 5), 5);
    file.commit(Flush::kWithDirectory);
  }
  EXPECT_EQ(read_host_file(target), "whole");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_ / "existing"),
                          std::filesystem::directory_iterator()),
            1);
}

TEST(ReadHostFile, ReadsAProcSysFileWhole) {
  std::string value = read_host_file("/proc/sys/fs/nr_open");
  ASSERT_FALSE(value.empty());
  EXPECT_EQ(value.back(), '\n');
  EXPECT_GT(std::stoull(value), 1024u) << value;  // never just its first digit
}

}  // namespace
}  // namespace mkimg
