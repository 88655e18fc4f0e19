// What a build flushes to disk, and in which order (docs/security.md 21), read from the real
// binary's system calls under strace: every blob is fsynced once, before its rename into
// blobs/; blobs/sha256/ is fsynced after the last such rename and before index.json is replaced;
// oci/ after; a layer directory's entries before its rename into layers/. The step cache's
// files are renamed without a flush (a torn one is a miss, cache/cache_index.h).
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/builder_fixture.h"

namespace mkimg::testing {
namespace {

/// One fsync or rename of the trace, in order: for an fsync `path` is the file descriptor's
/// path, for a rename `path` is the source and `target` the destination.
struct Call {
  std::string name;
  std::string path;
  std::string target;
};

/// The fsync and rename calls of `strace -f -y -s 4096` output, mkimg's and runc's alike, in
/// the order they returned. A call another thread interrupted comes in two lines ("... <unfinished
/// ...>", then "<... fsync resumed>) = 0"): they are joined.
std::vector<Call> parse_trace(const std::string& text) {
  static const std::regex fsync_re(R"re(^fsync\(\d+<(.*)>\) = 0$)re");
  static const std::regex rename_re(
      R"re(^(?:rename\("(.*)", "(.*)"\)|renameat2\(\d+<[^>]*>, "(.*)", \d+<[^>]*>, "(.*)", \w+\)) = 0$)re");
  static const std::regex line_re(R"re(^(\d+) +(.*)$)re");
  static const std::regex resumed_re(R"re(^<\.\.\. \w+ resumed>(.*)$)re");
  static const std::regex spaces_re(R"re(^\) +=)re");  // ")      = 0": aligned
  const std::string unfinished = " <unfinished ...>";
  std::map<std::string, std::string> started;  // thread -> the start of its interrupted call
  std::vector<Call> calls;
  std::istringstream in(text);
  std::smatch m, r;
  for (std::string raw; std::getline(in, raw);) {
    if (!std::regex_match(raw, m, line_re)) continue;
    std::string tid = m[1], line = m[2];
    if (line.ends_with(unfinished)) {
      started[tid] = line.substr(0, line.size() - unfinished.size());
      continue;
    }
    if (std::regex_match(line, r, resumed_re)) {
      line = started[tid] + std::regex_replace(std::string(r[1]), spaces_re, ") =");
      started.erase(tid);
    }
    if (std::regex_match(line, m, fsync_re)) {
      calls.push_back({"fsync", m[1], ""});
    } else if (std::regex_match(line, m, rename_re)) {
      calls.push_back({"rename", m[1].matched ? m[1] : m[3], m[1].matched ? m[2] : m[4]});
    }
  }
  return calls;
}

class CommitOrderTest : public BuilderTest {
 protected:
  /// Builds `dockerfile` (a new context) under strace and returns its fsyncs and renames.
  std::vector<Call> traced_build(const std::string& dockerfile) {
    fs::path ctx = dir("ctx");
    fs::create_directories(ctx);
    write_file(ctx / "Dockerfile", dockerfile);
    fs::path log = dir("strace.log");
    auto r = run({"strace", "-f", "-y", "-s", "4096", "-e", "trace=fsync,rename,renameat2", "-o",
                  log.string(), mkimg_binary(), "--root", store().string(), "build", "--progress",
                  "plain", "-t", "traced:1", ctx.string()});
    EXPECT_EQ(r.exit_code, 0) << r.all();
    return parse_trace(read_file(log));
  }

  std::string blobs() const { return (store() / "oci" / "blobs" / "sha256").string(); }
};

TEST_F(CommitOrderTest, BlobsAreFlushedOnceAndTheirDirectoryBeforeTheIndex) {
  auto calls = traced_build("FROM busybox\nRUN echo changed > /etc/one-file\n");
  std::string index = (store() / "oci" / "index.json").string();
  std::map<std::string, int> fsyncs;  // path -> how often
  std::size_t last_blob_rename = 0, index_rename = 0, blob_renames = 0;
  for (std::size_t i = 0; i < calls.size(); ++i) {
    const Call& c = calls[i];
    if (c.name == "fsync") {
      ++fsyncs[c.path];
    } else if (c.target.starts_with(blobs() + "/")) {
      EXPECT_EQ(fsyncs[c.path], 1) << c.path << ": a blob is fsynced once, before its rename";
      last_blob_rename = i;
      ++blob_renames;
    } else if (c.target == index) {
      index_rename = i;
    }
  }
  EXPECT_EQ(blob_renames, 3u) << "the layer, the config and the manifest";
  ASSERT_GT(index_rename, last_blob_rename);
  int dir_syncs = 0;
  for (std::size_t i = last_blob_rename + 1; i < index_rename; ++i) {
    dir_syncs += calls[i].name == "fsync" && calls[i].path == blobs();
  }
  EXPECT_EQ(dir_syncs, 1) << "blobs/sha256/ is fsynced once, after its renames, before index.json";
  EXPECT_EQ(fsyncs[blobs()], 1) << "and at no other time";
  bool oci_synced = false;
  for (std::size_t i = index_rename + 1; i < calls.size(); ++i) {
    oci_synced |= calls[i].name == "fsync" && calls[i].path == (store() / "oci").string();
  }
  EXPECT_TRUE(oci_synced) << "the rename onto index.json is made durable";
}

TEST_F(CommitOrderTest, ALayerDirectoryIsOnDiskBeforeItIsRecordedAndCacheEntriesAreNotFlushed) {
  auto calls = traced_build("FROM busybox\nRUN mkdir -p /d && echo one > /d/f\n");
  std::string layers = (store() / "layers").string() + "/";
  std::string steps = (store() / "cache" / "steps").string() + "/";
  std::vector<std::string> synced;
  int recorded = 0, entries = 0;
  for (const Call& c : calls) {
    if (c.name == "fsync") {
      synced.push_back(c.path);
      EXPECT_FALSE(c.path.starts_with(steps)) << c.path << ": a cache entry is not flushed";
    } else if (c.target.starts_with(layers)) {
      ++recorded;
      for (const char* rel : {"", "/d", "/d/f"}) {
        EXPECT_NE(std::find(synced.begin(), synced.end(), c.path + rel), synced.end())
            << c.path + rel << " was not fsynced before the layer was recorded";
      }
    } else if (c.target.starts_with(steps)) {
      ++entries;
    }
  }
  EXPECT_EQ(recorded, 1);
  EXPECT_EQ(entries, 2) << "the entry and its parts";
  // The cache entry written without a flush is still a hit.
  auto again = build(dir("ctx"));
  ASSERT_EQ(again.exit_code, 0) << again.all();
  EXPECT_EQ(count(again.err, "CACHED RUN"), 1) << again.all();
}

// The step's directories and the bundle are removed on a thread of their own, and a build that
// never meets scratch makes no empty directory: the main thread removes nothing in tmp/.
TEST_F(CommitOrderTest, ABuildRemovesItsDirectoriesOffItsPathAndMakesNoneItDoesNotUse) {
  fs::path ctx = dir("ctx");
  fs::create_directories(ctx);
  write_file(ctx / "Dockerfile", "FROM busybox\nRUN echo changed > /etc/one-file\n");
  fs::path log = dir("strace.log");
  auto r =
      run({"strace", "-f", "-e", "trace=mkdir,rmdir,unlinkat", "-o", log.string(), mkimg_binary(),
           "--root", store().string(), "build", "--progress", "plain", ctx.string()});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  std::string trace = read_file(log);
  EXPECT_EQ(trace.find("/tmp/empty-"), std::string::npos) << trace;
  std::istringstream in(trace);
  std::string main_tid = trace.substr(0, trace.find(' '));
  int removed_beside = 0;
  for (std::string line; std::getline(in, line);) {
    bool removal = line.find("rmdir(\"" + (store() / "tmp").string() + "/") != std::string::npos &&
                   line.find("/runtime-state\"") == std::string::npos;  // the store's opening
    if (!removal) continue;
    EXPECT_FALSE(line.starts_with(main_tid + " ")) << line;
    ++removed_beside;
  }
  EXPECT_EQ(removed_beside, 2) << "the step's directory and the bundle\n" << trace;
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(store() / "tmp")) {
    left.push_back(e.path().filename().string());
  }
  EXPECT_EQ(left, std::vector<std::string>{"runtime-state"}) << "all removed before mkimg exits";
}

}  // namespace
}  // namespace mkimg::testing
