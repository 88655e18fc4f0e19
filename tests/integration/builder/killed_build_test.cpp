// A build or `mkimg run` killed with SIGKILL leaves nothing running: its container dies with it
// (the container reaper, runtime/container_runtime.h), and what stays mounted in the store's
// tmp/ (the step's overlay, a secret's tmpfs) is detached by the next command that opens the
// store alone, before tmp/ is emptied; a container whose reaper was killed too is deleted there.
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/builder_fixture.h"

namespace mkimg::testing {
namespace {

/// Builds on a loaded machine are slow.
constexpr auto kPatience = std::chrono::minutes(2);

class KilledBuildTest : public BuilderTest {
 protected:
  /// A container a failed test left running is killed (its init ignores anything else).
  void TearDown() override {
    run({"pkill", "-KILL", "-f", "^sleep [0-9]" + std::to_string(::getpid()) + "$"});
    BuilderTest::TearDown();
  }

  /// The mount points below the store's tmp/.
  std::vector<std::string> mounts_in_tmp() const {
    std::vector<std::string> points;
    std::istringstream in(read_file("/proc/self/mountinfo"));
    std::string prefix = (store() / "tmp").string() + "/";
    for (std::string line; std::getline(in, line);) {
      std::istringstream fields(line);
      std::string skip, point;
      fields >> skip >> skip >> skip >> skip >> point;
      if (point.starts_with(prefix)) points.push_back(point);
    }
    return points;
  }

  /// A number for `sleep` that names this test process's container (another run of the
  /// tests may sleep at the same time).
  static std::string marker(int n) { return std::to_string(n) + std::to_string(::getpid()); }

  /// Whether a process runs `sleep <number>` (the container's command).
  static bool sleeping(const std::string& number) {
    return run({"pgrep", "-f", "^sleep " + number + "$"}).exit_code == 0;
  }

  /// Starts a build (with `extra` flags) whose RUN (with an env secret, so its bundle is on a
  /// tmpfs) sleeps with `number`; returns once the container runs.
  ChildProcess start_sleeping_build(const std::string& number,
                                    const std::vector<std::string>& extra = {}) {
    write_file(dir("ctx") / "Dockerfile",
               "FROM busybox\nRUN --mount=type=secret,id=s,env=S sleep " + number + "\n");
    write_file(dir("secret"), "hush\n");
    std::vector<std::string> args{mkimg_binary(), "--root",   store().string(),
                                  "build",        "--secret", "id=s,src=" + dir("secret").string()};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(dir("ctx").string());
    ChildProcess build(args, dir("build.log"));
    EXPECT_TRUE(wait_until([&] { return sleeping(number); }, kPatience))
        << read_file(dir("build.log"));
    return build;
  }
};

TEST_F(KilledBuildTest, ContainerDiesWithTheBuild) {
  const std::string m = marker(1);
  start_sleeping_build(m).kill();
  EXPECT_TRUE(wait_until([&] { return !sleeping(m); }, kPatience))
      << "the killed build's container still runs";
  EXPECT_FALSE(mounts_in_tmp().empty()) << "the overlay stays mounted until the next open";
  auto tagged = run_mkimg(store(), {"tag", "busybox", "again:1"});
  ASSERT_EQ(tagged.exit_code, 0) << tagged.all();
  EXPECT_EQ(mounts_in_tmp(), std::vector<std::string>{});
  EXPECT_TRUE(fs::is_empty(store() / "tmp"));
}

// A --no-cache build starts its reaper as it begins (builder/steps.h prepare_runs), not beside
// the RUN's bundle: the container dies with the build all the same.
TEST_F(KilledBuildTest, ContainerOfANoCacheBuildDiesWithTheBuild) {
  const std::string m = marker(4);
  ChildProcess build = start_sleeping_build(m, {"--no-cache"});
  std::string reaper_pattern = "mkimg-reaper .* mkimg-" + std::to_string(build.pid()) + "-$";
  EXPECT_EQ(run({"pgrep", "-f", reaper_pattern}).exit_code, 0) << "no reaper found";
  build.kill();
  EXPECT_TRUE(wait_until([&] { return !sleeping(m); }, kPatience))
      << "the killed build's container still runs";
}

TEST_F(KilledBuildTest, NextOpenDeletesAContainerWhoseReaperWasKilledToo) {
  const std::string m = marker(2);
  ChildProcess build = start_sleeping_build(m);
  std::string reaper_pattern = "mkimg-reaper .* mkimg-" + std::to_string(build.pid()) + "-$";
  ASSERT_EQ(run({"pkill", "-KILL", "-f", reaper_pattern}).exit_code, 0) << "no reaper found";
  build.kill();
  ::sleep(1);
  ASSERT_TRUE(sleeping(m)) << "without its reaper the container outlives the build";
  auto tagged = run_mkimg(store(), {"tag", "busybox", "again:1"});
  ASSERT_EQ(tagged.exit_code, 0) << tagged.all();
  EXPECT_TRUE(wait_until([&] { return !sleeping(m); }, kPatience))
      << "the next open left it running";
  EXPECT_EQ(mounts_in_tmp(), std::vector<std::string>{});
  EXPECT_TRUE(fs::is_empty(store() / "tmp"));
}

TEST_F(KilledBuildTest, RunDiesWithMkimg) {
  const std::string m = marker(3);
  ChildProcess running(
      {mkimg_binary(), "--root", store().string(), "run", "--rm", "busybox", "sleep", m},
      dir("run.log"));
  ASSERT_TRUE(wait_until([&] { return sleeping(m); }, kPatience)) << read_file(dir("run.log"));
  running.kill();
  EXPECT_TRUE(wait_until([&] { return !sleeping(m); }, kPatience))
      << "mkimg run's container still runs";
}

}  // namespace
}  // namespace mkimg::testing
