// `mkimg build --dry-run`: the plan of the stages the target needs, in order with their
// parallel groups, every instruction expanded; nothing run, pulled or written.
#include <gtest/gtest.h>

#include "tests/support/harness.h"

namespace mkimg::testing {
namespace {

class DryRunTest : public ::testing::Test {
 protected:
  CommandResult dry_run(const std::string& dockerfile, std::vector<std::string> extra = {}) {
    write_file(tmp_ / "ctx" / "Dockerfile", dockerfile);
    std::vector<std::string> args{"build", "--dry-run"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back((tmp_ / "ctx").string());
    return run_mkimg(store(), args);
  }
  fs::path store() const { return tmp_ / "store"; }

  TempDir tmp_;
};

constexpr const char* kMultiStage =
    "ARG BASE=example.invalid/never/pulled:1\n"
    "FROM ${BASE} AS deps\nENV DIR=/src\nWORKDIR $DIR\nRUN make deps\n"
    "FROM example.invalid/unused AS unused\nRUN never\n"
    "FROM busybox AS tools\nARG VERSION=1.0\nRUN echo tools $VERSION\n"
    "FROM deps AS build\nCOPY --from=tools /bin/tool /usr/bin/\nRUN make\n"
    "FROM scratch\nCOPY --from=build /src/app /app\nENTRYPOINT [\"/app\"]\n";

TEST_F(DryRunTest, ListsOnlyTheTargetsStagesInOrderAndWritesNothing) {
  auto r = dry_run(kMultiStage);
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(r.out,
            "# group 1/3: deps tools\n"
            "[deps 1/4] FROM example.invalid/never/pulled:1\n"
            "[deps 2/4] ENV DIR=/src\n"
            "[deps 3/4] WORKDIR $DIR\n"
            "[deps 4/4] RUN make deps\n"
            "[tools 1/3] FROM busybox\n"
            "[tools 2/3] ARG VERSION=1.0\n"
            "[tools 3/3] RUN echo tools $VERSION\n"
            "# group 2/3: build\n"
            "[build 1/3] FROM deps\n"
            "[build 2/3] COPY --from=tools /bin/tool /usr/bin/\n"
            "[build 3/3] RUN make\n"
            "# group 3/3: stage-4\n"
            "[stage-4 1/3] FROM scratch\n"
            "[stage-4 2/3] COPY --from=build /src/app /app\n"
            "[stage-4 3/3] ENTRYPOINT [\"/app\"]\n");
  EXPECT_FALSE(fs::exists(store())) << "a dry run writes nothing, not even an empty store";
}

TEST_F(DryRunTest, TargetAndBuildArgsChooseThePlan) {
  auto r = dry_run(kMultiStage, {"--target", "tools", "--build-arg", "BASE=other"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(r.out,
            "# group 1/1: tools\n"
            "[tools 1/3] FROM busybox\n"
            "[tools 2/3] ARG VERSION=1.0\n"
            "[tools 3/3] RUN echo tools $VERSION\n");
  auto deps = dry_run(kMultiStage, {"--target", "deps", "--build-arg", "BASE=other:2"});
  ASSERT_EQ(deps.exit_code, 0) << deps.all();
  EXPECT_NE(deps.out.find("[deps 1/4] FROM other:2\n"), std::string::npos) << deps.out;
}

TEST_F(DryRunTest, UnknownTargetIsAnErrorAsInABuild) {
  auto r = dry_run(kMultiStage, {"--target", "nosuchstage"});
  EXPECT_NE(r.exit_code, 0) << r.all();
  EXPECT_NE(r.err.find("mkimg: error:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("nosuchstage"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST_F(DryRunTest, CycleIsAnErrorAsInABuild) {
  auto r = dry_run(
      "FROM busybox AS a\nCOPY --from=b /x /x\n"
      "FROM busybox AS b\nCOPY --from=a /y /y\n");
  EXPECT_NE(r.exit_code, 0) << r.all();
  EXPECT_NE(r.err.find("cycle"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(store()));
}

TEST_F(DryRunTest, ExpansionErrorsNameTheLine) {
  auto r = dry_run("FROM busybox\nARG NEED\nWORKDIR ${NEED:?must be set}\n");
  EXPECT_NE(r.exit_code, 0) << r.all();
  EXPECT_NE(r.err.find("Dockerfile:3"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("must be set"), std::string::npos) << r.err;
  auto ok =
      dry_run("FROM busybox\nARG NEED\nWORKDIR ${NEED:?must be set}\n", {"--build-arg", "NEED=/x"});
  EXPECT_EQ(ok.exit_code, 0) << ok.all();
}

// What the build refuses before anything runs, with BuildKit's words and the FROM's line.
TEST_F(DryRunTest, BlankBaseNameIsAnErrorAsInABuild) {
  auto r = dry_run("ARG B\nFROM $B\nRUN true\n");
  EXPECT_NE(r.exit_code, 0) << r.all();
  EXPECT_NE(r.err.find("Dockerfile:2: base name ($B) should not be blank"), std::string::npos)
      << r.err;
  EXPECT_EQ(r.out, "");
  auto unused = dry_run("ARG B\nFROM busybox AS one\nFROM $B AS unused\n", {"--target", "one"});
  EXPECT_NE(unused.exit_code, 0) << unused.all();
  EXPECT_NE(unused.err.find("Dockerfile:3: base name ($B) should not be blank"), std::string::npos)
      << unused.err;
  auto given = dry_run("ARG B\nFROM $B\nRUN true\n", {"--build-arg", "B=busybox"});
  EXPECT_EQ(given.exit_code, 0) << given.all();
}

TEST_F(DryRunTest, MountTargetThatResolvesToTheRootIsAnErrorAsInABuild) {
  struct Case {
    const char* dockerfile;
    const char* where;
  };
  for (const Case& c : {
           Case{"FROM scratch\nRUN --mount=type=cache true\n", "Dockerfile:2: "},
           Case{"FROM busybox\nWORKDIR /src\nRUN --mount=type=bind,target=.. true\n",
                "Dockerfile:3: "},
           Case{"FROM busybox\nRUN --mount=type=tmpfs,target=/ true\n", "Dockerfile:2: "},
       }) {
    auto r = dry_run(c.dockerfile);
    EXPECT_NE(r.exit_code, 0) << c.dockerfile << r.all();
    EXPECT_NE(r.err.find(std::string(c.where) + "invalid mount target \"/\""), std::string::npos)
        << r.err;
  }
  // A base image's WORKDIR is not read by a dry run, so no target there is not refused; one
  // the Dockerfile sets is known.
  auto ok = dry_run(
      "FROM busybox AS base\nRUN --mount=type=cache true\n"
      "FROM scratch\nWORKDIR /w\nRUN --mount=from=base true\n");
  EXPECT_EQ(ok.exit_code, 0) << ok.all();
}

TEST_F(DryRunTest, OnbuildTriggersOfAStageBaseAreListed) {
  auto r = dry_run("FROM busybox AS base\nONBUILD RUN echo trigger\nFROM base\nRUN true\n");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_NE(r.out.find("[stage-1 1/2 ONBUILD] RUN echo trigger\n"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace mkimg::testing
