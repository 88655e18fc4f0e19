// tests/peers/dockerd.sh itself: test processes run at once (ctest -j) and each starts its own
// engine, so the sweep of engines left behind must never take another process's engine, and
// an engine that starts but dies must be reported as a failure (exit 1), never as "cannot
// run here" (exit 2, which makes the peer tests skip).
#include <gtest/gtest.h>
#include <unistd.h>

#include "tests/integration/peers/docker_engine.h"

namespace mkimg::testing::peers {
namespace {

std::string script() { return (peers_dir() / "dockerd.sh").string(); }

/// A state directory named like DockerEngine's, removed at the end of the test.
class StateDir {
 public:
  StateDir() {
    std::string tmpl = "/tmp/mkimg-peers-docker.XXXXXX";
    if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~StateDir() {
    std::error_code ignored;
    if (!path_.empty()) fs::remove_all(path_, ignored);
  }
  StateDir(const StateDir&) = delete;
  StateDir& operator=(const StateDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

TEST(DockerdScript, SweepStopsOnlyEnginesWhoseOwnerIsGone) {
  StateDir starting, orphaned, owned;
  ASSERT_FALSE(starting.path().empty() || orphaned.path().empty() || owned.path().empty());
  // `starting`: made by a test process whose `dockerd.sh start` has not written owner.pid yet
  // (the race that made peer cases skip in CI). `orphaned`: its owner has exited.
  CommandResult gone = run({"sh", "-c", "echo $$"});
  ASSERT_EQ(gone.exit_code, 0);
  write_file(orphaned.path() / "owner.pid", gone.out);
  write_file(owned.path() / "owner.pid", std::to_string(::getpid()) + "\n");

  CommandResult swept = run({script(), "sweep"});
  ASSERT_EQ(swept.exit_code, 0) << swept.all();
  EXPECT_TRUE(fs::exists(starting.path())) << "an engine being started was taken for a stale one";
  EXPECT_TRUE(fs::exists(owned.path())) << "an engine whose owner runs was stopped";
  EXPECT_FALSE(fs::exists(orphaned.path())) << "an engine whose owner is gone was left";
}

TEST(DockerdScript, AnEngineThatStartsAndDiesIsAFailureNotCannotRunHere) {
  StateDir dir;
  ASSERT_FALSE(dir.path().empty());
  // dockerd cannot listen where a directory is in the way of its socket: it exits at once.
  fs::create_directories(dir.path() / "docker.sock");
  CommandResult r = run({script(), "start", dir.path().string(), std::to_string(::getpid())});
  if (r.exit_code == 2) GTEST_SKIP() << "dockerd cannot run on this machine: " << r.err;
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_NE(r.err.find("dockerd exited with status"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("docker.sock: is a directory"), std::string::npos)
      << "the failure shows dockerd's log\n"
      << r.err;
  EXPECT_FALSE(fs::exists(dir.path())) << "a failed start leaves its state directory";
}

}  // namespace
}  // namespace mkimg::testing::peers
