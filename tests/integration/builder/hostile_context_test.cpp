// A hostile build context (issue #15): a pathological .dockerignore is matched in seconds or
// refused naming its line, never for minutes and gigabytes.

#include <chrono>
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

}  // namespace
}  // namespace mkimg::testing
