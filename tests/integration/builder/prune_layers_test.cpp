// `mkimg prune` and the unpacked layers under <root>/layers: the directories of a removed image
// go (and what they held is reported), those of tagged images stay, and a prune started while
// a build is using the store waits for it instead of taking its layers away. The directories a
// build makes are recorded (synced, then moved under <root>/layers) when it ends, never before,
// and a build killed before that leaves a store whose next build unpacks the layers it needs.
#include <set>
#include <string>
#include <vector>

#include "tests/support/builder_fixture.h"

namespace mkimg::testing {
namespace {

/// Builds on a loaded machine are slow.
constexpr auto kPatience = std::chrono::minutes(10);

/// The bytes of prune's "Total reclaimed space: 4.01MB" line (units of 1000, as printed).
double reclaimed_bytes(const std::string& out) {
  const std::string label = "Total reclaimed space: ";
  auto at = out.find(label);
  if (at == std::string::npos) return -1;
  std::size_t used = 0;
  double value = std::stod(out.substr(at + label.size()), &used);
  std::string unit = out.substr(at + label.size() + used, 2);
  return value * (unit == "kB" ? 1e3 : unit == "MB" ? 1e6 : unit == "GB" ? 1e9 : 1);
}

class PruneWithBuildTest : public BuilderTest {
 protected:
  /// The names under <root>/layers.
  std::set<std::string> layer_dirs() const {
    std::set<std::string> names;
    for (const auto& e : fs::directory_iterator(store() / "layers")) {
      names.insert(e.path().filename().string());
    }
    return names;
  }

  /// Builds `dockerfile` in its own context as `tag`.
  CommandResult build_file(const std::string& name, const std::string& dockerfile,
                           const std::string& tag) {
    write_file(dir(name) / "Dockerfile", dockerfile);
    return build(dir(name), {"-t", tag});
  }

  /// The RUN below runs (its container made /sync/started) until the test calls go().
  static constexpr const char* kBlockingRun =
      "RUN --mount=type=cache,target=/sync sh -c "
      "'touch /sync/started; while [ ! -e /sync/go ]; do sleep 0.1; done; ";

  /// Waits until a container of kBlockingRun runs: its cache mount (a host directory under
  /// <root>/cache/mounts) holds `started`. Not the build's log: it shows the command's text.
  bool blocking_run_started() const {
    return wait_until(
        [&] {
          std::error_code ec;
          for (const auto& e : fs::directory_iterator(store() / "cache/mounts", ec)) {
            if (fs::exists(e.path() / "started")) return true;
          }
          return false;
        },
        kPatience);
  }

  /// Lets every kBlockingRun go on.
  void go() const {
    for (const auto& e : fs::directory_iterator(store() / "cache/mounts")) {
      if (e.is_directory()) write_file(e.path() / "go", "");
    }
  }
};

TEST_F(PruneWithBuildTest, RmiThenPruneRemovesOnlyThatImagesLayers) {
  auto kept = build_file("keep", "FROM busybox\nRUN echo keep > /keep\n", "keep:1");
  ASSERT_EQ(kept.exit_code, 0) << kept.all();
  const auto needed = layer_dirs();  // busybox's layer and keep:1's
  auto gone = build_file("gone",
                         "FROM busybox\nRUN head -c 2000000 /dev/urandom > /noise\n"
                         "RUN echo two > /two\n",
                         "gone:1");
  ASSERT_EQ(gone.exit_code, 0) << gone.all();
  ASSERT_EQ(layer_dirs().size(), needed.size() + 2);
  write_file(store() / "layers/.tmp-0123-abcdef/leftover", "of a killed unpack");

  ASSERT_EQ(run_mkimg(store(), {"rmi", "gone:1"}).exit_code, 0);
  auto prune = run_mkimg(store(), {"prune"});
  ASSERT_EQ(prune.exit_code, 0) << prune.all();
  EXPECT_EQ(layer_dirs(), needed);
  EXPECT_NE(prune.out.find("Deleted 2 unpacked layers\n"), std::string::npos) << prune.out;
  // 2 MB of noise in the unpacked layer and as much in its (incompressible) blob.
  double freed = reclaimed_bytes(prune.out);
  EXPECT_GE(freed, 3.99e6) << prune.out;
  EXPECT_LE(freed, 4.2e6) << prune.out;

  EXPECT_EQ(run_image("keep:1", {"cat", "/keep"}).out, "keep\n");
  auto again = build(dir("gone"), {"-t", "gone:1"});  // its cache points at pruned blobs
  ASSERT_EQ(again.exit_code, 0) << again.all();
  EXPECT_EQ(run_image("gone:1", {"cat", "/two"}).out, "two\n");
}

TEST_F(PruneWithBuildTest, PruneDuringABuildWaitsAndTheBuildSucceeds) {
  auto kept = build_file("keep", "FROM busybox\nRUN echo keep > /keep\n", "keep:1");
  ASSERT_EQ(kept.exit_code, 0) << kept.all();
  auto gone = build_file("gone", "FROM busybox\nRUN echo gone > /gone\n", "gone:1");
  ASSERT_EQ(gone.exit_code, 0) << gone.all();
  ASSERT_EQ(run_mkimg(store(), {"rmi", "gone:1"}).exit_code, 0);
  const auto before = layer_dirs();

  // The RUN step blocks until the test drops /sync/go into its cache mount, so the build is
  // certainly running while prune starts.
  write_file(dir("slow") / "Dockerfile",
             std::string("FROM busybox\n") + kBlockingRun + "echo done > /slow'\n");
  const fs::path build_log = dir("build.log"), prune_log = dir("prune.log");
  ChildProcess slow({mkimg_binary(), "--root", store().string(), "build", "--progress", "plain",
                     "-t", "slow:1", dir("slow").string()},
                    build_log);
  ASSERT_TRUE(blocking_run_started()) << read_file(build_log);
  ChildProcess prune({mkimg_binary(), "--root", store().string(), "prune"}, prune_log);
  ASSERT_TRUE(wait_until(
      [&] {
        return read_file(prune_log).find("Waiting for the other mkimg processes") !=
               std::string::npos;
      },
      kPatience))
      << read_file(prune_log);
  EXPECT_TRUE(prune.running());
  EXPECT_EQ(layer_dirs(), before) << "nothing is removed while the build holds the store";

  go();
  EXPECT_EQ(slow.wait(), 0) << read_file(build_log);
  EXPECT_EQ(prune.wait(), 0) << read_file(prune_log);
  EXPECT_NE(read_file(prune_log).find("Deleted 1 unpacked layers\n"), std::string::npos)
      << read_file(prune_log);
  EXPECT_EQ(run_image("slow:1", {"cat", "/slow"}).out, "done\n");
  EXPECT_EQ(run_image("keep:1", {"cat", "/keep"}).out, "keep\n");
}

TEST_F(PruneWithBuildTest, LayerDirectoriesAreRecordedWhenTheBuildEnds) {
  fs::create_directories(dir("two"));
  write_file(dir("two") / "Dockerfile", std::string("FROM busybox:latest\nRUN echo one > /one\n") +
                                            kBlockingRun + "cat /one > /two'\n");
  const auto before = layer_dirs();
  const fs::path log = dir("build.log");
  {
    ChildProcess build({mkimg_binary(), "--root", store().string(), "build", "--progress", "plain",
                        "-t", "two:1", dir("two").string()},
                       log);
    ASSERT_TRUE(blocking_run_started()) << read_file(log);
    // The first RUN's directory is in use as a lower but not recorded yet.
    EXPECT_EQ(layer_dirs(), before);
    build.kill();
    EXPECT_NE(build.wait(), 0);
  }
  // SIGKILL leaves the build no chance to stop its container: let it end on its own, so no
  // process of this test outlives it.
  go();
  ASSERT_TRUE(wait_until(
      [&] {
        return run({"pgrep", "-f", (store() / "tmp/runtime-state").string()}).exit_code != 0;
      },
      kPatience))
      << "the killed build's container is still running";
  // The killed build's first step is cached; its layer is unpacked from the blob for the next.
  write_file(dir("two") / "Dockerfile",
             "FROM busybox:latest\nRUN echo one > /one\nRUN cat /one > /two\n");
  auto r = build(dir("two"), {"-t", "two:2"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(count(r.all(), "CACHED"), 1) << r.all();
  EXPECT_EQ(run_image("two:2", {"cat", "/two"}).out, "one\n");
  EXPECT_EQ(layer_dirs().size(), before.size() + 2);  // both RUN layers, recorded at the end
  bool leftovers = false;
  for (const auto& e : fs::directory_iterator(store() / "tmp")) {
    leftovers = leftovers || e.path().filename().string().starts_with("layer-");
  }
  EXPECT_FALSE(leftovers);
}

}  // namespace
}  // namespace mkimg::testing
