// The step cache across invocations: a changed context file rebuilds only from its COPY on;
// --no-cache rebuilds everything; --explain names what changed.
#include <sys/stat.h>

#include <map>

#include "tests/support/builder_fixture.h"

namespace mkimg::testing {
namespace {

const char* kDockerfile =
    "FROM busybox\n"
    "RUN echo first > /first\n"
    "COPY a.txt /a.txt\n"
    "COPY b.txt /b.txt\n"
    "RUN cat /a.txt /b.txt > /both\n"
    "CMD [\"cat\", \"/both\"]\n";

class CacheTest : public BuilderTest {
 protected:
  void SetUp() override {
    BuilderTest::SetUp();
    write_file(dir("ctx") / "Dockerfile", kDockerfile);
    write_file(dir("ctx") / "a.txt", "a1\n");
    write_file(dir("ctx") / "b.txt", "b1\n");
  }
};

TEST_F(CacheTest, ChangingOneContextFileRebuildsOnlyFromThatCopyOn) {
  ASSERT_EQ(build(dir("ctx"), {"-t", "c:1"}).exit_code, 0);
  write_file(dir("ctx") / "b.txt", "b2\n");
  auto r = build(dir("ctx"), {"-t", "c:1", "--explain"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_NE(r.err.find("CACHED RUN echo first"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("CACHED COPY a.txt"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("CACHED COPY b.txt"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("CACHED RUN cat"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("source:/b.txt"), std::string::npos) << "explain names the file\n" << r.err;
  auto ran = run_image("c:1");
  EXPECT_EQ(ran.out, "a1\nb2\n");
}

TEST_F(CacheTest, TouchingAFileWithoutChangingItKeepsTheCache) {
  auto first = build(dir("ctx"), {"-t", "c:1"});
  ASSERT_EQ(first.exit_code, 0) << first.all();
  write_file(dir("ctx") / "a.txt", "a1\n");  // same bytes, new mtime
  auto second = build(dir("ctx"), {"-t", "c:1"});
  ASSERT_EQ(second.exit_code, 0) << second.all();
  EXPECT_EQ(image_id(second), image_id(first));
}

/// Inode and mtime of every file below `dir`: what a rewrite (temp file + rename) changes.
std::map<std::string, std::pair<ino_t, long long>> identities(const fs::path& dir) {
  std::map<std::string, std::pair<ino_t, long long>> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    struct stat st {};
    if (!e.is_regular_file() || ::stat(e.path().c_str(), &st) != 0) continue;
    out[e.path().string()] = {st.st_ino, st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec};
  }
  return out;
}

TEST_F(CacheTest, NoOpRebuildWritesNothingInTheStore) {
  auto first = build(dir("ctx"), {"-t", "c:1"});
  ASSERT_EQ(first.exit_code, 0) << first.all();
  ASSERT_TRUE(fs::exists(store() / "cache/context-memos"));
  auto index = identities(store() / "oci");
  auto cache = identities(store() / "cache");
  auto again = build(dir("ctx"), {"-t", "c:1"});
  ASSERT_EQ(again.exit_code, 0) << again.all();
  EXPECT_EQ(image_id(again), image_id(first));
  EXPECT_EQ(count(again.err, "CACHED"), 4) << again.err;
  EXPECT_EQ(identities(store() / "oci"), index) << "index.json or a blob was rewritten";
  EXPECT_EQ(identities(store() / "cache"), cache) << "the memo or the cache index was rewritten";
  // Another tag is a real change: index.json is written.
  ASSERT_EQ(build(dir("ctx"), {"-t", "c:2"}).exit_code, 0);
  EXPECT_NE(identities(store() / "oci"), index);
  EXPECT_EQ(run_mkimg(store(), {"inspect", "c:2"}).exit_code, 0);
}

// A cached RUN needs no runtime: a cached rebuild starts no process at all (no runtime probe,
// no container reaper).
TEST_F(CacheTest, CachedRebuildStartsNoProcess) {
  ASSERT_EQ(build(dir("ctx"), {"-t", "c:1"}).exit_code, 0);
  fs::path log = dir("execve.log");
  auto r =
      run({"strace", "-f", "-e", "trace=execve", "-o", log.string(), mkimg_binary(), "--root",
           store().string(), "build", "--progress", "plain", "-t", "c:1", dir("ctx").string()});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(count(r.err, "CACHED"), 4) << r.err;
  EXPECT_EQ(count(read_file(log), "execve("), 1) << read_file(log);
}

TEST_F(CacheTest, NoCacheRunsEveryStepAgain) {
  ASSERT_EQ(build(dir("ctx"), {"-t", "c:1"}).exit_code, 0);
  auto r = build(dir("ctx"), {"-t", "c:1", "--no-cache"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(count(r.err, "CACHED"), 0) << r.err;
  EXPECT_EQ(count(r.err, "DONE"), 4) << r.err;
}

}  // namespace
}  // namespace mkimg::testing
