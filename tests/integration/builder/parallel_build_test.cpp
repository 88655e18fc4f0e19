// Independent stages build at the same time (--jobs), give the same image as a build one stage
// at a time, and the first failing stage stops the build cleanly.
#include <nlohmann/json.hpp>

#include "tests/support/builder_fixture.h"

namespace mkimg::testing {
namespace {

class ParallelBuildTest : public BuilderTest {
 protected:
  std::string manifest_digest(const std::string& image) {
    auto r = run_mkimg(store(), {"inspect", image});
    EXPECT_EQ(r.exit_code, 0) << r.all();
    return nlohmann::json::parse(r.out).at(0).at("Digest").get<std::string>();
  }

  /// Mount points at or below the store, from /proc/self/mounts.
  std::vector<std::string> mounts_below_store() const {
    std::ifstream mounts("/proc/self/mounts");
    std::vector<std::string> points;
    std::string device, point, rest;
    while (mounts >> device >> point && std::getline(mounts, rest)) {
      if (point.rfind(store().string() + "/", 0) == 0) points.push_back(point);
    }
    return points;
  }

  /// Containers the runtime still knows of (its state directories).
  std::vector<std::string> leftover_containers() const {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(store() / "tmp" / "runtime-state", ec)) {
      out.push_back(e.path().filename().string());
    }
    return out;
  }

  std::map<std::string, std::string> reproducible_env() const {
    return {{"SOURCE_DATE_EPOCH", "1700000000"}};
  }
};

// Three independent stages, each `sleep 1` and a file, and a final stage copying from all.
constexpr const char* kThreeStages =
    "FROM busybox AS one\nRUN sleep 1 && echo one > /one.txt\n"
    "FROM busybox AS two\nRUN sleep 1 && echo two > /two.txt && mkdir -p /d/e && echo x > /d/e/f\n"
    "FROM busybox AS three\nRUN sleep 1 && echo three > /three.txt\n"
    "FROM busybox\nCOPY --from=one /one.txt /\nCOPY --from=two /two.txt /d /\n"
    "COPY --from=three /three.txt /\nCMD [\"cat\", \"/one.txt\"]\n";

TEST_F(ParallelBuildTest, OneJobAndDefaultJobsGiveTheSameManifestDigest) {
  write_file(dir("ctx") / "Dockerfile", kThreeStages);
  auto one = run_mkimg(store(),
                       {"build", "--progress", "plain", "--no-cache", "--jobs", "1", "-t",
                        "par:one", dir("ctx").string()},
                       reproducible_env());
  ASSERT_EQ(one.exit_code, 0) << one.all();
  auto many = run_mkimg(
      store(),
      {"build", "--progress", "plain", "--no-cache", "-t", "par:many", dir("ctx").string()},
      reproducible_env());
  ASSERT_EQ(many.exit_code, 0) << many.all();
  auto four = run_mkimg(store(),
                        {"build", "--progress", "plain", "--no-cache", "--jobs", "4", "-t",
                         "par:four", dir("ctx").string()},
                        reproducible_env());
  ASSERT_EQ(four.exit_code, 0) << four.all();
  EXPECT_EQ(manifest_digest("par:one"), manifest_digest("par:many"));
  EXPECT_EQ(manifest_digest("par:one"), manifest_digest("par:four"));
  auto ran = run_image("par:many", {"cat", "/one.txt", "/two.txt", "/three.txt", "/e/f"});
  EXPECT_EQ(ran.exit_code, 0) << ran.all();
  EXPECT_EQ(ran.out, "one\ntwo\nthree\nx\n");
}

// Each stage's RUN leaves a marker in a shared cache mount and waits (bounded by WAIT seconds)
// for the other stage's marker: that only succeeds when both RUN steps are running together.
constexpr const char* kRendezvous =
    "ARG WAIT=120\n"
    "FROM busybox AS left\nARG WAIT\n"
    "RUN --mount=type=cache,id=rendezvous,target=/r sh -c 'touch /r/left; i=0; "
    "while [ ! -e /r/right ]; do i=$((i+1)); [ $i -gt $WAIT ] && exit 7; sleep 1; done; "
    "echo met > /left.txt'\n"
    "FROM busybox AS right\nARG WAIT\n"
    "RUN --mount=type=cache,id=rendezvous,target=/r sh -c 'touch /r/right; i=0; "
    "while [ ! -e /r/left ]; do i=$((i+1)); [ $i -gt $WAIT ] && exit 7; sleep 1; done; "
    "echo met > /right.txt'\n"
    "FROM busybox\nCOPY --from=left /left.txt /\nCOPY --from=right /right.txt /\n";

TEST_F(ParallelBuildTest, IndependentStagesRunAtTheSameTime) {
  write_file(dir("ctx") / "Dockerfile", kRendezvous);
  auto r = build(dir("ctx"), {"--jobs", "2", "-t", "meet:1"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  auto ran = run_image("meet:1", {"cat", "/left.txt", "/right.txt"});
  EXPECT_EQ(ran.out, "met\nmet\n") << ran.all();
}

TEST_F(ParallelBuildTest, OneJobBuildsStagesOneAfterAnother) {
  write_file(dir("ctx") / "Dockerfile", kRendezvous);
  auto r = build(dir("ctx"), {"--jobs", "1", "--build-arg", "WAIT=2", "-t", "meet:1"});
  EXPECT_NE(r.exit_code, 0) << "the rendezvous cannot succeed one stage at a time\n" << r.all();
  EXPECT_NE(r.err.find("Dockerfile:4"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("exit code: 7"), std::string::npos) << r.err;
}

TEST_F(ParallelBuildTest, FailingStageCancelsTheRunningOneAndLeavesNothingBehind) {
  write_file(dir("ctx") / "Dockerfile", "FROM busybox\nRUN echo good > /good\n");
  auto good = build(dir("ctx"), {"-t", "app:1"});
  ASSERT_EQ(good.exit_code, 0) << good.all();
  // `slow` would run for 5 minutes and then leave a marker; `bad` fails once `slow` runs.
  write_file(dir("ctx") / "Dockerfile",
             "FROM busybox AS slow\n"
             "RUN --mount=type=cache,id=sync,target=/r sh -c 'touch /r/slow-started; "
             "sleep 300; touch /r/slow-finished'\n"
             "FROM busybox AS bad\n"
             "RUN --mount=type=cache,id=sync,target=/r sh -c 'i=0; while [ ! -e /r/slow-started ]; "
             "do i=$((i+1)); [ $i -gt 120 ] && exit 9; sleep 1; done; echo failing now; exit 3'\n"
             "FROM busybox\nCOPY --from=slow /etc/passwd /a\nCOPY --from=bad /etc/passwd /b\n");
  auto r = build(dir("ctx"), {"--jobs", "2", "-t", "app:1"});
  EXPECT_NE(r.exit_code, 0) << r.all();
  EXPECT_NE(r.err.find("mkimg: error: Dockerfile:4"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("exit code: 3"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("failing now"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("mkimg: error: Dockerfile:2"), std::string::npos)
      << "the cancelled stage is not the error\n"
      << r.err;
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(store() / "cache" / "mounts", ec)) {
    EXPECT_NE(e.path().filename(), "slow-finished") << "the slow step was not cancelled";
  }
  EXPECT_EQ(mounts_below_store(), std::vector<std::string>{});
  EXPECT_EQ(leftover_containers(), std::vector<std::string>{});
  auto still = run_image("app:1", {"cat", "/good"});
  EXPECT_EQ(still.out, "good\n") << still.all();
  write_file(dir("ctx") / "Dockerfile", "FROM busybox\nRUN echo again > /again\n");
  auto again = build(dir("ctx"), {"-t", "app:2"});
  EXPECT_EQ(again.exit_code, 0) << "the store is usable\n" << again.all();
}

}  // namespace
}  // namespace mkimg::testing
