// TempDir: made with mkdtemp under a parent with a prefix, removed with its contents at scope
// exit (or on a Background), owned by one object at a time.
#include "common/temp_dir.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <utility>

#include "common/error.h"
#include "common/parallel.h"

namespace mkimg {
namespace {

namespace fs = std::filesystem;

class TempDirTest : public ::testing::Test {
 protected:
  TempDir parent_{fs::temp_directory_path(), "mkimg-temp-dir-test-"};
};

TEST_F(TempDirTest, IsANewPrivateDirectoryNamedWithThePrefix) {
  TempDir a(parent_.path(), "job-");
  TempDir b(parent_.path(), "job-");
  EXPECT_NE(a.path(), b.path());
  EXPECT_EQ(a.path().parent_path(), parent_.path());
  EXPECT_TRUE(a.path().filename().string().starts_with("job-")) << a.path();
  struct stat st {};
  ASSERT_EQ(::stat(a.path().c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  EXPECT_EQ(a / "x", a.path() / "x");
}

TEST_F(TempDirTest, RemovedWithItsContentsAtScopeExit) {
  fs::path kept;
  {
    TempDir dir(parent_.path(), "scope-");
    kept = dir.path();
    fs::create_directories(dir / "a/b");
    std::ofstream(dir / "a/b/file") << "x";
    fs::create_symlink(parent_.path(), dir / "a/up");  // removed, not followed
  }
  EXPECT_FALSE(fs::exists(kept));
  EXPECT_TRUE(fs::exists(parent_.path()));
}

TEST_F(TempDirTest, MovingHandsTheDirectoryOverAndTheNewOwnerRemovesIt) {
  fs::path kept;
  std::optional<TempDir> moved;
  {
    TempDir dir(parent_.path(), "move-");
    kept = dir.path();
    moved.emplace(std::move(dir));
    EXPECT_TRUE(dir.path().empty());  // NOLINT(bugprone-use-after-move): what a move leaves
  }
  EXPECT_TRUE(fs::is_directory(kept)) << "the moved-from object removed nothing";
  EXPECT_EQ(moved->path(), kept);
  moved.reset();
  EXPECT_FALSE(fs::exists(kept));
}

TEST_F(TempDirTest, MoveAssignmentRemovesTheDirectoryItReplaces) {
  TempDir a(parent_.path(), "a-");
  TempDir b(parent_.path(), "b-");
  fs::path old_a = a.path(), old_b = b.path();
  a = std::move(b);
  EXPECT_FALSE(fs::exists(old_a));
  EXPECT_EQ(a.path(), old_b);
  EXPECT_TRUE(fs::is_directory(old_b));
}

TEST_F(TempDirTest, ReleaseLeavesTheDirectoryInPlace) {
  fs::path kept;
  {
    TempDir dir(parent_.path(), "released-");
    kept = dir.release();
    EXPECT_TRUE(dir.path().empty());
  }
  EXPECT_TRUE(fs::is_directory(kept));
}

TEST_F(TempDirTest, RemoveBesideHandsTheRemovalToTheBackground) {
  fs::path dir;
  Background beside;
  {
    TempDir d(parent_.path(), "job-");
    dir = d.path();
    fs::create_directories(dir / "a" / "b");
    std::ofstream(dir / "a" / "b" / "f") << "x";
    d.remove_beside(beside);
    EXPECT_TRUE(d.path().empty()) << "it owns nothing afterwards";
  }
  beside.wait();
  EXPECT_FALSE(fs::exists(dir)) << "removed, contents and all, by the background's thread";
}

TEST_F(TempDirTest, AMissingParentIsAnErrorNamingThePath) {
  try {
    TempDir dir(parent_.path() / "missing", "x-");
    FAIL() << "made " << dir.path();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing/x-XXXXXX"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mkimg
