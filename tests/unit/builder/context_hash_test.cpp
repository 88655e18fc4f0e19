// The stat-keyed memo of context file hashes: one memo per context directory, relative paths,
// a changed file read again, nothing written when nothing is new.
#include "builder/context_hash.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/fd.h"
#include "oci/digest.h"
#include "tests/support/harness.h"

namespace mkimg::builder {
namespace {

namespace fs = std::filesystem;

using mkimg::testing::write_file;

class ContextHashTest : public ::testing::Test {
 protected:
  static struct stat stat_of(const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
    return st;
  }

  /// The digest `hasher` gives `rel` in `context`.
  static std::string digest(ContextHasher& hasher, const fs::path& context,
                            const std::string& rel) {
    UniqueFd fd(::open((context / rel).c_str(), O_RDONLY | O_CLOEXEC));
    EXPECT_TRUE(fd.valid()) << context / rel;
    struct stat st {};
    EXPECT_EQ(::fstat(fd.get(), &st), 0);
    return hasher.hash(rel, fd.get(), st);
  }

  fs::path memos() const { return dir_ / "memos"; }
  mkimg::testing::TempDir tmp_;
  const fs::path& dir_ = tmp_.path();
};

TEST_F(ContextHashTest, RememberedFileIsNotReadAgain) {
  write_file(dir_ / "ctx/sub/f", "one");
  {
    ContextHasher hasher(memos(), dir_ / "ctx");
    EXPECT_EQ(digest(hasher, dir_ / "ctx", "sub/f"), oci::sha256_of("one").str());
    EXPECT_EQ(hasher.files_read(), 1);
    hasher.save();
  }
  ContextHasher again(memos(), dir_ / "ctx");
  EXPECT_EQ(again.lookup("sub/f", stat_of(dir_ / "ctx/sub/f")), oci::sha256_of("one").str());
  EXPECT_EQ(digest(again, dir_ / "ctx", "sub/f"), oci::sha256_of("one").str());
  EXPECT_EQ(again.files_read(), 0);
  // The memo holds the path relative to the context.
  std::ifstream in(ContextHasher::memo_path(memos(), dir_ / "ctx"));
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(text.find(" sub/f\n"), std::string::npos) << text;
}

TEST_F(ContextHashTest, ChangedFileIsReadAgain) {
  write_file(dir_ / "ctx/f", "one");
  {
    ContextHasher hasher(memos(), dir_ / "ctx");
    digest(hasher, dir_ / "ctx", "f");
    hasher.save();
  }
  struct stat old = stat_of(dir_ / "ctx/f");
  write_file(dir_ / "ctx/f", "two");  // same size, same inode
  struct timespec later[2] = {old.st_atim, old.st_mtim};
  later[1].tv_sec += 10;
  ASSERT_EQ(::utimensat(AT_FDCWD, (dir_ / "ctx/f").c_str(), later, 0), 0);
  ContextHasher again(memos(), dir_ / "ctx");
  EXPECT_FALSE(again.lookup("f", stat_of(dir_ / "ctx/f")));
  EXPECT_EQ(digest(again, dir_ / "ctx", "f"), oci::sha256_of("two").str());
  EXPECT_EQ(again.files_read(), 1);
}

TEST_F(ContextHashTest, TwoContextsDoNotShareEntries) {
  write_file(dir_ / "a/f", "shared bytes");
  fs::create_directories(dir_ / "b");
  fs::create_hard_link(dir_ / "a/f", dir_ / "b/f");  // the very same stat in both contexts
  {
    ContextHasher a(memos(), dir_ / "a");
    digest(a, dir_ / "a", "f");
    a.save();
  }
  EXPECT_NE(ContextHasher::memo_path(memos(), dir_ / "a"),
            ContextHasher::memo_path(memos(), dir_ / "b"));
  ContextHasher b(memos(), dir_ / "b");
  EXPECT_FALSE(b.lookup("f", stat_of(dir_ / "b/f"))) << "b used a's memo";
  digest(b, dir_ / "b", "f");
  EXPECT_EQ(b.files_read(), 1);
  b.save();
  ContextHasher a_again(memos(), dir_ / "a");
  EXPECT_TRUE(a_again.lookup("f", stat_of(dir_ / "a/f"))) << "b's save lost a's memo";
}

TEST_F(ContextHashTest, MemoNamingAnotherDirectoryIsNotUsed) {
  write_file(dir_ / "a/f", "bytes");
  fs::create_directories(dir_ / "b");
  fs::create_hard_link(dir_ / "a/f", dir_ / "b/f");
  {
    ContextHasher a(memos(), dir_ / "a");
    digest(a, dir_ / "a", "f");
    a.save();
  }
  // As if the names of a's and b's memos collided.
  fs::copy_file(ContextHasher::memo_path(memos(), dir_ / "a"),
                ContextHasher::memo_path(memos(), dir_ / "b"));
  ContextHasher b(memos(), dir_ / "b");
  EXPECT_FALSE(b.lookup("f", stat_of(dir_ / "b/f")));
}

TEST_F(ContextHashTest, TheSameDirectoryNamedDifferentlySharesOneMemo) {
  write_file(dir_ / "ctx/f", "x");
  fs::create_directory_symlink(dir_ / "ctx", dir_ / "link");
  EXPECT_EQ(ContextHasher::memo_path(memos(), dir_ / "ctx"),
            ContextHasher::memo_path(memos(), dir_ / "link/"));
  EXPECT_EQ(ContextHasher::memo_path(memos(), dir_ / "ctx"),
            ContextHasher::memo_path(memos(), dir_ / "ctx/../ctx"));
}

TEST_F(ContextHashTest, NothingNewWritesNothing) {
  write_file(dir_ / "ctx/f", "x");
  {
    ContextHasher unused(memos(), dir_ / "ctx");
    unused.save();
  }
  EXPECT_FALSE(fs::exists(memos())) << "a build that read no file wrote a memo";
  {
    ContextHasher hasher(memos(), dir_ / "ctx");
    digest(hasher, dir_ / "ctx", "f");
    hasher.save();
  }
  struct stat before = stat_of(ContextHasher::memo_path(memos(), dir_ / "ctx"));
  ContextHasher again(memos(), dir_ / "ctx");
  digest(again, dir_ / "ctx", "f");
  again.save();
  struct stat after = stat_of(ContextHasher::memo_path(memos(), dir_ / "ctx"));
  EXPECT_EQ(after.st_ino, before.st_ino) << "the memo was rewritten";
  EXPECT_EQ(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
}

/// The lines of `memo` after its header.
std::vector<std::string> memo_lines(const fs::path& memo) {
  std::ifstream in(memo);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  if (!lines.empty()) lines.erase(lines.begin());
  return lines;
}

TEST_F(ContextHashTest, AFewFilesReadAgainAreAppendedNotTheWholeMemoWritten) {
  for (int i = 0; i < 10; ++i) write_file(dir_ / "ctx" / ("f" + std::to_string(i)), "x");
  {
    ContextHasher hasher(memos(), dir_ / "ctx");
    for (int i = 0; i < 10; ++i) digest(hasher, dir_ / "ctx", "f" + std::to_string(i));
    hasher.save();
  }
  fs::path memo = ContextHasher::memo_path(memos(), dir_ / "ctx");
  struct stat before = stat_of(memo);
  write_file(dir_ / "ctx/f3", "changed");
  {
    ContextHasher hasher(memos(), dir_ / "ctx");
    EXPECT_EQ(digest(hasher, dir_ / "ctx", "f3"), oci::sha256_of("changed").str());
    EXPECT_EQ(digest(hasher, dir_ / "ctx", "f4"), oci::sha256_of("x").str());
    EXPECT_EQ(hasher.files_read(), 1);
    hasher.save();
  }
  EXPECT_EQ(stat_of(memo).st_ino, before.st_ino) << "the memo was written anew";
  auto lines = memo_lines(memo);
  ASSERT_EQ(lines.size(), 11u);
  EXPECT_TRUE(lines.back().ends_with(" f3")) << lines.back();
  // The appended line replaces the first one for f3.
  ContextHasher again(memos(), dir_ / "ctx");
  EXPECT_EQ(again.lookup("f3", stat_of(dir_ / "ctx/f3")), oci::sha256_of("changed").str());
  EXPECT_EQ(again.lookup("f4", stat_of(dir_ / "ctx/f4")), oci::sha256_of("x").str());
}

TEST_F(ContextHashTest, ASecondSaveAppendsOnlyWhatWasReadSinceTheFirst) {
  for (const char* name : {"a", "b", "c", "d"}) write_file(dir_ / "ctx" / name, name);
  fs::path memo = ContextHasher::memo_path(memos(), dir_ / "ctx");
  {
    ContextHasher hasher(memos(), dir_ / "ctx");
    for (const char* name : {"a", "b", "c", "d"}) digest(hasher, dir_ / "ctx", name);
    hasher.save();
  }
  write_file(dir_ / "ctx/a", "a2");
  write_file(dir_ / "ctx/b", "b2");
  ContextHasher hasher(memos(), dir_ / "ctx");
  digest(hasher, dir_ / "ctx", "a");
  hasher.save();
  digest(hasher, dir_ / "ctx", "b");
  hasher.save();
  hasher.save();
  auto lines = memo_lines(memo);
  ASSERT_EQ(lines.size(), 6u);  // 4, then a, then b: each once
  EXPECT_TRUE(lines[4].ends_with(" a")) << lines[4];
  EXPECT_TRUE(lines[5].ends_with(" b")) << lines[5];
  ContextHasher again(memos(), dir_ / "ctx");
  EXPECT_EQ(again.lookup("b", stat_of(dir_ / "ctx/b")), oci::sha256_of("b2").str());
}

TEST_F(ContextHashTest, AMemoOfMostlyReplacedLinesIsWrittenAnewOneLineAPath) {
  write_file(dir_ / "ctx/a", "a");
  write_file(dir_ / "ctx/b", "b");
  fs::path memo = ContextHasher::memo_path(memos(), dir_ / "ctx");
  for (int round = 0; round < 6; ++round) {
    write_file(dir_ / "ctx/a", "a" + std::to_string(round));
    ContextHasher hasher(memos(), dir_ / "ctx");
    digest(hasher, dir_ / "ctx", "a");
    digest(hasher, dir_ / "ctx", "b");
    hasher.save();
    EXPECT_LE(memo_lines(memo).size(), 4u) << "round " << round;
  }
  ContextHasher again(memos(), dir_ / "ctx");
  EXPECT_EQ(again.lookup("a", stat_of(dir_ / "ctx/a")), oci::sha256_of("a5").str());
  EXPECT_EQ(again.lookup("b", stat_of(dir_ / "ctx/b")), oci::sha256_of("b").str());
}

TEST_F(ContextHashTest, AnAppendCutShortCostsOnlyTheLinesItTouched) {
  for (const char* name : {"a", "b", "c"}) write_file(dir_ / "ctx" / name, name);
  {
    ContextHasher hasher(memos(), dir_ / "ctx");
    for (const char* name : {"a", "b", "c"}) digest(hasher, dir_ / "ctx", name);
    hasher.save();
  }
  fs::path memo = ContextHasher::memo_path(memos(), dir_ / "ctx");
  std::string b_line;
  for (const auto& line : memo_lines(memo)) {
    if (line.ends_with(" b")) b_line = line;
  }
  ASSERT_FALSE(b_line.empty());
  {
    // A build killed in its append: half a line, then the next build's whole line for c (its
    // own stat key) glued on.
    std::ofstream out(memo, std::ios::app);
    out << b_line.substr(0, b_line.find(' ') + 20);
  }
  write_file(dir_ / "ctx/c", "c2");
  {
    ContextHasher hasher(memos(), dir_ / "ctx");
    EXPECT_EQ(digest(hasher, dir_ / "ctx", "c"), oci::sha256_of("c2").str());
    hasher.save();
  }
  ContextHasher again(memos(), dir_ / "ctx");
  EXPECT_EQ(again.lookup("a", stat_of(dir_ / "ctx/a")), oci::sha256_of("a").str());
  EXPECT_EQ(again.lookup("b", stat_of(dir_ / "ctx/b")), oci::sha256_of("b").str());
  // The glued line is no line: c is read again, never given another file's digest.
  EXPECT_NE(again.lookup("c", stat_of(dir_ / "ctx/c")), oci::sha256_of("b").str());
  EXPECT_EQ(digest(again, dir_ / "ctx", "c"), oci::sha256_of("c2").str());
}

TEST_F(ContextHashTest, WithoutAMemoEveryFileIsRead) {
  write_file(dir_ / "ctx/f", "x");
  ContextHasher none("");
  EXPECT_EQ(digest(none, dir_ / "ctx", "f"), oci::sha256_of("x").str());
  EXPECT_EQ(digest(none, dir_ / "ctx", "f"), oci::sha256_of("x").str());
  EXPECT_EQ(none.files_read(), 2);
  none.save();
}

}  // namespace
}  // namespace mkimg::builder
