// A hostile build context (issue #15): a pathological .dockerignore is matched in seconds or
// refused naming its line, never for minutes and gigabytes; SIGTERM stops a build within
// seconds in every long phase (hashing a big file, matching .dockerignore, writing a layer,
// unpacking a base),
// leaving the tag and the store as they were; a context of 100,000 files builds in
// under 200 MB.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <set>
#include <thread>

#include "tests/support/builder_fixture.h"

namespace mkimg::testing {
namespace {

using Clock = std::chrono::steady_clock;

class HostileContextTest : public BuilderTest {
 protected:
  /// `mkimg build` of `context` as app:1, killed when it runs longer than `limit` (then the
  /// result has exit code -1 and says so).
  CommandResult build_within(const fs::path& context, std::chrono::seconds limit) {
    fs::path log = dir("build.log");
    ChildProcess child({mkimg_binary(), "--root", store().string(), "build", "--progress", "plain",
                        "-t", "app:1", context.string()},
                       log);
    const auto deadline = Clock::now() + limit;
    while (child.running() && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    CommandResult r;
    if (child.running()) {
      child.kill();
      r.err = "still running after " + std::to_string(limit.count()) + " s: killed\n";
    } else {
      r.exit_code = child.wait();
    }
    r.err += read_file(log);
    return r;
  }

  /// A build of `context` as app:1 running in the background, its output in a log.
  class Background {
   public:
    Background(HostileContextTest& t, const fs::path& context)
        : log_(t.dir("background.log")),
          child_({mkimg_binary(), "--root", t.store().string(), "build", "--progress", "plain",
                  "-t", "app:1", context.string()},
                 log_) {}

    /// Waits until the log holds `marker` (or the build ends, or a minute passes).
    bool wait_for(const std::string& marker) {
      const auto deadline = Clock::now() + std::chrono::seconds(60);
      while (child_.running() && Clock::now() < deadline) {
        if (read_file(log_).find(marker) != std::string::npos) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      return false;
    }

    /// Sends SIGTERM and waits up to `limit` for the end: the exit code (-1 when it had to be
    /// killed) and the seconds it took to stop.
    std::pair<int, double> terminate(std::chrono::seconds limit) {
      const auto sent = Clock::now();
      if (child_.running()) ::kill(child_.pid(), SIGTERM);
      while (child_.running() && Clock::now() < sent + limit) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      const double took = std::chrono::duration<double>(Clock::now() - sent).count();
      if (child_.running()) {
        child_.kill();
        return {-1, took};
      }
      return {child_.wait(), took};
    }

    std::string log() const { return read_file(log_); }

   private:
    fs::path log_;
    ChildProcess child_;
  };

  /// Sends `b` SIGTERM and checks that it stopped within a few seconds with an error saying
  /// "interrupted", its store's tmp/ holding nothing it left (runc's state directory stays,
  /// empty, after every build); returns its log.
  std::string stop(Background& b) const {
    auto [code, seconds] = b.terminate(std::chrono::seconds(20));
    const std::string log = b.log();
    EXPECT_EQ(code, 1) << log;
    // Generous for a loaded machine: each loop checks the interrupt every file or MiB.
    EXPECT_LT(seconds, 5.0) << log;
    EXPECT_NE(log.find("mkimg: error: Dockerfile:"), std::string::npos) << log;
    EXPECT_NE(log.find("interrupted"), std::string::npos) << log;
    for (const auto& e : fs::directory_iterator(store() / "tmp")) {
      const bool state = e.path().filename() == "runtime-state" && fs::is_empty(e.path());
      EXPECT_TRUE(state) << e.path() << " left behind by the interrupted build";
    }
    return log;
  }

  /// Builds app:1 (a file /good), so an interrupted build can be seen to leave it alone.
  void build_good_image() {
    write_file(dir("good") / "Dockerfile", "FROM busybox\nRUN echo good > /good\n");
    auto good = build(dir("good"), {"-t", "app:1"});
    ASSERT_EQ(good.exit_code, 0) << good.all();
  }

  /// Starts a build of `context`, sends SIGTERM once `marker` is in its output (and `after`
  /// more has passed), and checks that it stopped within a few seconds with an error saying
  /// "interrupted", leaving app:1 and the store as they were (no work area left in tmp/).
  void expect_prompt_stop(const fs::path& context, const std::string& marker,
                          std::chrono::milliseconds after) {
    Background b(*this, context);
    ASSERT_TRUE(b.wait_for(marker)) << b.log();
    std::this_thread::sleep_for(after);
    stop(b);
    auto still = run_image("app:1", {"cat", "/good"});
    EXPECT_EQ(still.exit_code, 0) << still.all();
    EXPECT_EQ(still.out, "good\n") << "the tag still names the previous image";
  }

  /// A context of `files` small files below src/ (in 20 directories) and `dockerignore`.
  fs::path context_with(const std::string& dockerignore, int files) {
    fs::path ctx = dir("ctx");
    for (int i = 0; i < files; ++i) {
      write_file(ctx / "src" / ("d" + std::to_string(i % 20)) / ("f" + std::to_string(i) + ".c"),
                 "x\n");
    }
    write_file(ctx / ".dockerignore", dockerignore);
    write_file(ctx / "Dockerfile", "FROM busybox\nCOPY src /src\n");
    return ctx;
  }
};

// 100,000 patterns used to take over a minute for 200 files (each pattern compiled again for
// every path and parent); compiled once and turned away by their literal tail, they take a
// fraction of a second. The last matching pattern still decides.
TEST_F(HostileContextTest, DockerignoreOf100000PatternsIsMatchedInSeconds) {
  std::string patterns = "src/d3\n";
  for (int i = 0; i < 99998; ++i) {  // 100,000 patterns in all
    patterns += "**/some/dir" + std::to_string(i) + "/**/*.tmp" + std::to_string(i) + "\n";
  }
  patterns += "!src/d3/f3.c\n";
  auto r = build_within(context_with(patterns, 500), std::chrono::seconds(30));
  ASSERT_EQ(r.exit_code, 0) << r.all();
  auto listed = run_image("app:1", {"sh", "-c", "ls /src/d3; ls /src/d4 | wc -l"});
  ASSERT_EQ(listed.exit_code, 0) << listed.all();
  EXPECT_EQ(listed.out, "f3.c\n25\n");
}

// One 10 MB line used to take minutes and 1.5 GB; it is refused at once, naming the line.
TEST_F(HostileContextTest, TenMegabytePatternIsRefusedNamingItsLine) {
  fs::path ctx = context_with("# fine\n" + std::string(10 << 20, 'a') + "*\n", 10);
  auto r = build_within(ctx, std::chrono::seconds(30));
  EXPECT_EQ(r.exit_code, 1) << r.err.substr(0, 2000);
  EXPECT_NE(r.err.find("mkimg: error: " + (ctx / ".dockerignore").string() +
                       ":2: a pattern of 10485761 bytes: longer than the 4096"),
            std::string::npos)
      << r.err.substr(0, 2000);
}

// A .dockerignore over 16 MiB is refused by name before it is read.
TEST_F(HostileContextTest, DockerignoreOver16MiBIsRefusedByName) {
  std::string comments;
  while (comments.size() <= (16u << 20)) comments += "#" + std::string(1022, 'c') + "\n";
  fs::path ctx = context_with(comments, 10);
  auto r = build_within(ctx, std::chrono::seconds(30));
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_NE(r.err.find("mkimg: error: read `" + (ctx / ".dockerignore").string() +
                       "`: larger than 16 MiB"),
            std::string::npos)
      << r.err;
}

// SIGTERM while a 64 GiB (sparse) source is hashed: it was ignored until the hash was done and
// the layer written (minutes); now the hash stops within a MiB.
TEST_F(HostileContextTest, SigtermStopsHashingABigFile) {
  build_good_image();
  fs::path ctx = dir("big");
  write_file(ctx / "Dockerfile", "FROM busybox\nCOPY big /big\n");
  write_file(ctx / "big", "");
  ASSERT_EQ(::truncate((ctx / "big").c_str(), off_t{64} << 30), 0);
  expect_prompt_stop(ctx, "FROM busybox", std::chrono::seconds(2));
}

// SIGTERM while 100,000 patterns that defeat the literal pre-checks are matched against 4,000
// files (tens of seconds of matching): the walk stops at the next file.
TEST_F(HostileContextTest, SigtermStopsMatchingDockerignore) {
  build_good_image();
  const std::string letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  std::string patterns;
  for (int i = 0; i < 100000; ++i) {
    patterns += std::string("*[") + letters[i % 52] + letters[i / 52 % 52] +
                letters[i / 52 / 52 % 52] + "]*/*[0-9]*.zz?\n";
  }
  expect_prompt_stop(context_with(patterns, 4000), "FROM busybox", std::chrono::seconds(3));
}

// SIGTERM while the layer of a RUN that made a 64 GiB (sparse) file is written: the writer
// stops between MiBs of the file.
TEST_F(HostileContextTest, SigtermStopsWritingALayer) {
  build_good_image();
  fs::path ctx = dir("run");
  write_file(ctx / "Dockerfile",
             "FROM busybox\nRUN dd if=/dev/zero of=/big bs=1048576 count=0 seek=65536 && "
             "echo made-the-file\n");
  expect_prompt_stop(ctx, "| made-the-file", std::chrono::seconds(2));
}

// SIGTERM while a base image of 20,000 files is unpacked for the first RUN on it: the unpack
// went on to the end (seconds; minutes for a large base) and the RUN's container was even
// started; now it stops at the next 256 KiB of the layer, leaving no layer directory, whole or
// partial, and the store builds the same Dockerfile afterwards.
TEST_F(HostileContextTest, SigtermStopsUnpackingABase) {
  build_good_image();
  fs::path root = dir("many-root");
  auto copied = run({"cp", "-a", (dir("busybox")).string() + "/.", root.string()});
  ASSERT_EQ(copied.exit_code, 0) << copied.all();
  for (int i = 0; i < 20000; ++i) {
    write_file(root / "many" / ("d" + std::to_string(i % 20)) / ("f" + std::to_string(i)), "x\n");
  }
  std::set<fs::path> before;
  for (const auto& e : fs::directory_iterator(store() / "layers")) before.insert(e.path());
  auto imported = run_mkimg(store(), {"import", root.string(), "many:1"});
  ASSERT_EQ(imported.exit_code, 0) << imported.all();
  auto layers_now = [&] {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(store() / "layers")) {
      if (!before.contains(e.path())) out.push_back(e.path().filename().string());
    }
    return out;
  };
  ASSERT_EQ(layers_now().size(), 1u);
  // As a pulled or loaded image: its layer is unpacked when a step first needs it.
  fs::remove_all(store() / "layers" / layers_now()[0]);
  fs::path ctx = dir("on-many");
  write_file(ctx / "Dockerfile", "FROM many:1\nRUN ls /many | wc -l\n");

  Background b(*this, ctx);
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  bool unpacking = false;
  while (!unpacking && Clock::now() < deadline) {
    for (const auto& name : layers_now()) unpacking = unpacking || name.starts_with(".tmp-");
    if (!unpacking) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(unpacking) << b.log();
  const std::string log = stop(b);
  EXPECT_NE(log.find("unpack layer"), std::string::npos) << log;
  EXPECT_EQ(log.find("| 20"), std::string::npos) << "the RUN ran\n" << log;
  EXPECT_TRUE(layers_now().empty()) << "a layer directory left: " << layers_now()[0];
  auto again = build(ctx, {"-t", "app:2"});
  ASSERT_EQ(again.exit_code, 0) << again.all();
  EXPECT_NE(again.all().find("| 20"), std::string::npos) << again.all();
}

// A COPY of many small files then a RUN: peak RSS grows about 1.7 KiB per file over a ~15 MB
// base (issue #15: under 200 MB for 100,000 files; it was 277 MB, now 186 MB). 50,000 files
// keep the test short: 102 MB now, 146 MB before; the bound, 120 MB, is the 100,000-file bound
// scaled down ((200 - 15) / 2 + 15 = 107 MB) plus room against noise. Every file's records were
// kept at once: the sources, the layer plan, the key parts and their digests (twice), the
// planner's stat of every target, the JSON of the parts and the recall record. Memory is no
// timing: the bound does not depend on load.
TEST_F(HostileContextTest, BuildOf50000FilesStaysUnder120MB) {
  fs::path ctx = dir("many");
  for (int i = 0; i < 50000; ++i) {
    write_file(ctx / "data" / ("d" + std::to_string(i % 50)) / ("s" + std::to_string(i % 7)) /
                   ("f" + std::to_string(i) + ".txt"),
               std::to_string(i) + "\n");
  }
  write_file(ctx / "Dockerfile", "FROM busybox\nCOPY data /data\nRUN find /data -type f | wc -l\n");
  auto r = build(ctx, {"-t", "many:1"});
  ASSERT_EQ(r.exit_code, 0) << r.all().substr(0, 4000);
  EXPECT_NE(r.err.find("| 50000"), std::string::npos) << r.err.substr(0, 4000);
  // The largest of the children waited for: this test's mkimg runs (import, build) and runc.
  struct rusage usage {};
  ASSERT_EQ(::getrusage(RUSAGE_CHILDREN, &usage), 0);
  EXPECT_LT(usage.ru_maxrss, 120 * 1024) << "peak RSS in KiB";
}

}  // namespace
}  // namespace mkimg::testing
