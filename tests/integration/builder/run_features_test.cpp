// RUN features end to end: many layers in one stage (beyond mount(2)'s one-page option
// string), heredocs, secret and ssh mounts, odd files in the context.
#include <sys/stat.h>

#include "tests/integration/builder/builder_fixture.h"

namespace mkimg::testing {
namespace {

class RunFeaturesTest : public BuilderTest {};

TEST_F(RunFeaturesTest, OneHundredTwentyRunStepsAllVisibleInTheLastRun) {
  std::string dockerfile = "FROM busybox\n";
  for (int i = 1; i <= 120; ++i) dockerfile += "RUN touch /f" + std::to_string(i) + "\n";
  dockerfile +=
      "RUN n=0; for i in $(seq 1 120); do test -e /f$i && n=$((n+1)); done; "
      "echo $n > /count; test $n = 120\n";
  write_file(dir("ctx") / "Dockerfile", dockerfile);
  auto r = build(dir("ctx"), {"-t", "many:1"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  auto ran = run_image("many:1", {"cat", "/count"});
  ASSERT_EQ(ran.exit_code, 0) << ran.all();
  EXPECT_EQ(ran.out, "120\n");
  auto again = build(dir("ctx"), {"-t", "many:1"});  // all cached, same image
  ASSERT_EQ(again.exit_code, 0) << again.all();
  EXPECT_EQ(image_id(again), image_id(r));
}

TEST_F(RunFeaturesTest, ShebangHeredocRunsAsAFileWithItsInterpreter) {
  write_file(dir("ctx") / "Dockerfile",
             "FROM busybox\n"
             "RUN <<EOF\n#!/bin/sh -e\necho \"ran as $0\" > /shebang\nEOF\n"
             "RUN <<EOF\n#!/usr/bin/awk -f\nBEGIN { print \"awk ran\" > \"/awk\" }\nEOF\n"
             "RUN <<-EOT\n#!/bin/sh\n\techo tabs > /tabs\n\tEOT\n"
             "RUN <<'EOF'\necho \"$HOME\" > /home-var\nEOF\n"
             "RUN cat <<A >/a && cat <<B >/b\none\nA\ntwo\nB\n");
  auto r = build(dir("ctx"), {"-t", "heredoc:1"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  auto ran = run_image("heredoc:1", {"cat", "/shebang", "/awk", "/tabs", "/home-var", "/a", "/b"});
  ASSERT_EQ(ran.exit_code, 0) << ran.all();
  EXPECT_EQ(ran.out, "ran as /dev/pipes/EOF\nawk ran\ntabs\n/root\none\ntwo\n");
}

TEST_F(RunFeaturesTest, ShebangHeredocUsesTheInterpretersFlags) {
  // Through the shell the `#!` line is a comment and `false` would not stop the script; run
  // as a file, `sh -e` stops at `false`.
  write_file(dir("ctx") / "Dockerfile",
             "FROM busybox\nRUN <<EOF\n#!/bin/sh -e\nfalse\necho after > /after\nEOF\n");
  auto r = build(dir("ctx"));
  EXPECT_NE(r.exit_code, 0) << r.all();
  EXPECT_NE(r.err.find("Dockerfile:2"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("/dev/pipes/EOF"), std::string::npos) << r.err;
}

TEST_F(RunFeaturesTest, ShebangHeredocBodyIsInTheCacheKey) {
  write_file(dir("ctx") / "Dockerfile", "FROM busybox\nRUN <<EOF\n#!/bin/sh\necho one > /v\nEOF\n");
  ASSERT_EQ(build(dir("ctx"), {"-t", "hd:1"}).exit_code, 0);
  write_file(dir("ctx") / "Dockerfile", "FROM busybox\nRUN <<EOF\n#!/bin/sh\necho two > /v\nEOF\n");
  auto r = build(dir("ctx"), {"-t", "hd:1"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(count(r.err + r.out, "CACHED"), 0) << r.all();
  EXPECT_EQ(run_image("hd:1", {"cat", "/v"}).out, "two\n");
}

}  // namespace
}  // namespace mkimg::testing
