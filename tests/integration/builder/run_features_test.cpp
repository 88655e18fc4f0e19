// RUN features end to end: many layers in one stage (beyond mount(2)'s one-page option
// string), heredocs, secret and ssh mounts, odd files in the context.
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "tests/support/builder_fixture.h"
#include "tests/support/registry_fixture.h"

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

// BuildKit: RUN --security=insecure is refused unless the build grants the entitlement
// (`--allow security.insecure`), in a dry run too; granted, the step runs as `docker run
// --privileged` would: every capability, no masked /proc paths (/proc/timer_list reads), /sys
// writable. The sandboxed step keeps Docker's defaults; the two are different cache entries.
TEST_F(RunFeaturesTest, SecurityInsecureNeedsTheEntitlementAndThenRunsPrivileged) {
  const std::string probe =
      "grep CapEff /proc/self/status > /caps && "
      "head -c 1 /proc/timer_list | wc -c > /timer-list && "
      "(grep ' /sys ' /proc/mounts | grep -c ' ro,' || true) > /sys-ro\n";
  write_file(dir("ctx") / "Dockerfile", "FROM busybox\nRUN --security=insecure " + probe);
  auto refused = build(dir("ctx"), {"-t", "insecure:1"});
  EXPECT_EQ(refused.exit_code, 1) << refused.all();
  EXPECT_NE(refused.err.find("Dockerfile:2"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("security.insecure is not allowed"), std::string::npos) << refused.err;
  auto planned = build(dir("ctx"), {"--dry-run"});
  EXPECT_EQ(planned.exit_code, 1) << planned.all();
  EXPECT_NE(planned.err.find("Dockerfile:2"), std::string::npos) << planned.err;
  EXPECT_NE(planned.err.find("security.insecure is not allowed"), std::string::npos) << planned.err;
  EXPECT_EQ(build(dir("ctx"), {"--dry-run", "--allow", "security.insecure"}).exit_code, 0);

  auto granted = build(dir("ctx"), {"-t", "insecure:1", "--allow", "security.insecure"});
  ASSERT_EQ(granted.exit_code, 0) << granted.all();
  auto ran = run_image("insecure:1", {"cat", "/caps", "/timer-list", "/sys-ro"});
  ASSERT_EQ(ran.exit_code, 0) << ran.all();
  // Every capability this (root) process holds: what containerd's WithPrivileged grants.
  std::string status = read_file("/proc/self/status");
  std::size_t at = status.find("CapBnd:\t");
  ASSERT_NE(at, std::string::npos);
  std::string bounding = status.substr(at + 8, 16);
  EXPECT_EQ(ran.out, "CapEff:\t" + bounding + "\n1\n0\n") << ran.all();

  write_file(dir("ctx") / "Dockerfile", "FROM busybox\nRUN " + probe);
  auto sandboxed = build(dir("ctx"), {"-t", "sandboxed:1", "--allow", "security.insecure"});
  ASSERT_EQ(sandboxed.exit_code, 0) << sandboxed.all();
  EXPECT_EQ(count(sandboxed.err, "CACHED"), 0) << sandboxed.err;
  auto plain = run_image("sandboxed:1", {"cat", "/caps", "/timer-list", "/sys-ro"});
  EXPECT_EQ(plain.out, "CapEff:\t00000000a80425fb\n0\n1\n") << plain.all();

  auto bad = build(dir("ctx"), {"--allow", "security.everything"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("security.everything"), std::string::npos) << bad.err;
}

// BuildKit: a bind (from the context or a stage), cache or tmpfs mount without a target lands
// at the step's working directory; a relative target is relative to it.
TEST_F(RunFeaturesTest, MountWithoutTargetLandsAtTheWorkdir) {
  write_file(dir("ctx") / "f.txt", "from-context\n");
  write_file(dir("ctx") / "sub" / "g.txt", "from-sub\n");
  write_file(dir("ctx") / "Dockerfile",
             "FROM busybox AS build\n"
             "RUN mkdir /out && echo from-stage > /out/built.txt\n"
             "FROM busybox\n"
             "WORKDIR /src\n"
             "RUN --mount=type=bind cat f.txt > /got-context && pwd > /got-pwd\n"
             "RUN --mount=type=bind,source=sub cat g.txt > /got-sub\n"
             "RUN --mount=from=build,source=/out cat built.txt > /got-stage\n"
             "RUN --mount=type=bind,source=sub,target=rel cat /src/rel/g.txt > /got-rel\n"
             "RUN --mount=type=cache echo cached > c.txt\n"
             "RUN --mount=type=cache cat /src/c.txt > /got-cache\n"
             "RUN --mount=type=tmpfs touch t && grep -q ' /src tmpfs ' /proc/mounts "
             "&& echo tmpfs > /got-tmpfs\n");
  auto r = build(dir("ctx"), {"-t", "notarget:1"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  auto ran = run_image("notarget:1", {"cat", "/got-context", "/got-pwd", "/got-sub", "/got-stage",
                                      "/got-rel", "/got-cache", "/got-tmpfs"});
  ASSERT_EQ(ran.exit_code, 0) << ran.all();
  EXPECT_EQ(ran.out, "from-context\n/src\nfrom-sub\nfrom-stage\nfrom-sub\ncached\ntmpfs\n");
  auto left = run_image("notarget:1", {"ls", "-A", "/src"});
  ASSERT_EQ(left.exit_code, 0) << left.all();
  EXPECT_EQ(left.out, "") << "what the mounts showed or got is not in the image";
}

// BuildKit keys a RUN by what its binds read: a changed file under a bind of the context, or a
// changed stage a bind reads from, is a miss; a change elsewhere is not.
TEST_F(RunFeaturesTest, ABindsContentIsPartOfTheRunsKey) {
  write_file(dir("ctx") / "f.txt", "one\n");
  write_file(dir("ctx") / "other.txt", "x\n");
  write_file(dir("ctx") / "stage.txt", "s1\n");
  write_file(dir("ctx") / "Dockerfile",
             "FROM busybox AS build\n"
             "COPY stage.txt /out/\n"
             "FROM busybox\n"
             "RUN --mount=type=bind,source=f.txt,target=/f cat /f > /got-file\n"
             "RUN --mount=from=build,source=/out,target=/o cat /o/stage.txt > /got-stage\n");
  auto first = build(dir("ctx"), {"-t", "bindkey:1"});
  ASSERT_EQ(first.exit_code, 0) << first.all();
  write_file(dir("ctx") / "other.txt", "y\n");
  auto same = build(dir("ctx"), {"-t", "bindkey:1"});
  ASSERT_EQ(same.exit_code, 0) << same.all();
  EXPECT_EQ(count(same.err, "CACHED RUN"), 2) << same.err;
  write_file(dir("ctx") / "f.txt", "two\n");
  auto file_changed = build(dir("ctx"), {"-t", "bindkey:1"});
  ASSERT_EQ(file_changed.exit_code, 0) << file_changed.all();
  EXPECT_EQ(count(file_changed.err, "CACHED RUN"), 0) << file_changed.err;
  write_file(dir("ctx") / "stage.txt", "s2\n");
  auto stage_changed = build(dir("ctx"), {"-t", "bindkey:1"});
  ASSERT_EQ(stage_changed.exit_code, 0) << stage_changed.all();
  EXPECT_EQ(count(stage_changed.err, "CACHED RUN --mount=type=bind"), 1) << stage_changed.err;
  EXPECT_EQ(count(stage_changed.err, "CACHED RUN --mount=from"), 0) << stage_changed.err;
  auto ran = run_image("bindkey:1", {"cat", "/got-file", "/got-stage"});
  EXPECT_EQ(ran.out, "two\ns2\n") << ran.all();
}

/// Every file under `dir` (gzip and zstd blobs decompressed) that contains `needle`.
std::string files_containing(const fs::path& dir, const std::string& needle) {
  auto r = run({"sh", "-c",
                "find \"$1\" -type f | while read -r f; do "
                "{ gzip -dc \"$f\" 2>/dev/null || zstd -dc \"$f\" 2>/dev/null || cat \"$f\"; } "
                "| grep -q -F -e \"$2\" && echo \"$f\"; done; true",
                "sh", dir.string(), needle});
  return r.out;
}

TEST_F(RunFeaturesTest, SecretIsReadableInTheStepButInNoLayerConfigOrCache) {
  const std::string secret = "s3cr3t-value-7f1d2c";
  write_file(dir("secret.txt"), secret);
  write_file(
      dir("ctx") / "Dockerfile",
      "FROM busybox\n"
      "RUN --mount=type=secret,id=foo sha256sum /run/secrets/foo | cut -d' ' -f1 > /hash"
      " && stat -c '%a %u' /run/secrets/foo > /mode\n"
      "RUN --mount=type=secret,id=foo,target=/etc/app.key,mode=0440,uid=1 "
      "stat -c '%a %u' /etc/app.key > /mode2 && ! touch /etc/app.key 2>/dev/null\n"
      "RUN --mount=type=secret,id=foo,env=FOO printf %s \"$FOO\" | sha256sum | cut -d' ' -f1 "
      "> /env && ! test -e /run/secrets/foo\n");
  auto r =
      build(dir("ctx"), {"-t", "sec:1", "--secret", "id=foo,src=" + dir("secret.txt").string()});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  auto want =
      run({"sh", "-c", "sha256sum \"$1\" | cut -d' ' -f1", "sh", dir("secret.txt").string()});
  auto ran = run_image("sec:1", {"cat", "/hash", "/mode", "/mode2", "/env"});
  ASSERT_EQ(ran.exit_code, 0) << ran.all();
  EXPECT_EQ(ran.out, want.out + "400 0\n440 1\n" + want.out);
  EXPECT_EQ(run_image("sec:1", {"ls", "/run/secrets"}).out, "") << "no mount point stub left";
  EXPECT_EQ(r.all().find(secret), std::string::npos) << r.all();
  EXPECT_EQ(files_containing(store(), secret), "") << "the secret is in the store";
  // BuildKit does not key on a secret's contents: a new value reuses the cached steps.
  write_file(dir("secret.txt"), "another value");
  auto again =
      build(dir("ctx"), {"-t", "sec:1", "--secret", "id=foo,src=" + dir("secret.txt").string()});
  ASSERT_EQ(again.exit_code, 0) << again.all();
  EXPECT_EQ(image_id(again), image_id(r));
}

TEST_F(RunFeaturesTest, SecretFromAnEnvironmentVariable) {
  write_file(dir("ctx") / "Dockerfile",
             "FROM busybox\nRUN --mount=type=secret,id=tok,required=true "
             "cat /run/secrets/tok | wc -c > /len\n");
  auto r = run({"env", "MKIMG_TEST_TOKEN=abcdef", mkimg_binary(), "--root", store().string(),
                "build", "--progress", "plain", "-t", "tok:1", "--secret",
                "id=tok,env=MKIMG_TEST_TOKEN", dir("ctx").string()});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(run_image("tok:1", {"cat", "/len"}).out, "6\n");
}

// A secret given to the step as an environment variable is in the bundle's config.json,
// which then lives on a tmpfs: never on the store's disk.
TEST_F(RunFeaturesTest, SecretInTheEnvironmentNeverReachesTheDisk) {
  const std::string secret = "env-s3cr3t-4a9b";
  write_file(dir("ctx") / "Dockerfile",
             "FROM busybox\nRUN --mount=type=secret,id=tok,env=TOK "
             "test \"$TOK\" = " +
                 secret + " && sleep 3\n");
  ChildProcess b({"env", "MKIMG_TEST_TOKEN=" + secret, mkimg_binary(), "--root", store().string(),
                  "build", "--secret", "id=tok,env=MKIMG_TEST_TOKEN", dir("ctx").string()},
                 dir("build.log"));
  fs::path config;
  ASSERT_TRUE(wait_until([&] {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(store() / "tmp", ec)) {
      if (e.path().filename().string().starts_with("bundle-") &&
          fs::exists(e.path() / "config.json", ec)) {
        config = e.path() / "config.json";
        return true;
      }
    }
    return false;
  })) << read_file(dir("build.log"));
  struct statfs fs_info {};
  ASSERT_EQ(::statfs(config.c_str(), &fs_info), 0);
  EXPECT_EQ(fs_info.f_type, static_cast<decltype(fs_info.f_type)>(TMPFS_MAGIC));
  EXPECT_NE(read_file(config).find(secret), std::string::npos) << "the step's own config.json";
  EXPECT_EQ(b.wait(), 0) << read_file(dir("build.log"));
}

TEST_F(RunFeaturesTest, MissingRequiredSecretFailsWithTheLineMissingOptionalIsSkipped) {
  write_file(dir("ctx") / "Dockerfile",
             "FROM busybox\nRUN echo one\nRUN --mount=type=secret,id=nope,required=true true\n");
  auto r = build(dir("ctx"));
  EXPECT_NE(r.exit_code, 0) << r.all();
  EXPECT_NE(r.err.find("Dockerfile:3"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("secret nope not provided"), std::string::npos) << r.err;
  write_file(dir("ctx") / "Dockerfile",
             "FROM busybox\nRUN --mount=type=secret,id=nope "
             "test ! -e /run/secrets/nope && echo skipped > /s\n");
  auto ok = build(dir("ctx"), {"-t", "opt:1"});
  ASSERT_EQ(ok.exit_code, 0) << ok.all();
  EXPECT_EQ(run_image("opt:1", {"cat", "/s"}).out, "skipped\n");
}

TEST_F(RunFeaturesTest, SshAgentSocketIsForwarded) {
  if (!have_tool("ssh-agent")) GTEST_SKIP() << "ssh-agent (openssh-client) is not installed";
  fs::path sock = dir("agent.sock");
  auto agent = run({"ssh-agent", "-a", sock.string()});
  ASSERT_EQ(agent.exit_code, 0) << agent.all();
  auto pid_at = agent.out.find("SSH_AGENT_PID=");
  ASSERT_NE(pid_at, std::string::npos) << agent.out;
  std::string pid = agent.out.substr(pid_at + 14, agent.out.find(';', pid_at) - pid_at - 14);
  struct KillAgent {
    std::string pid;
    ~KillAgent() { run({"kill", pid}); }
  } kill_agent{pid};
  write_file(dir("ctx") / "Dockerfile",
             "FROM busybox\n"
             "RUN --mount=type=ssh test -S \"$SSH_AUTH_SOCK\" && echo \"$SSH_AUTH_SOCK\" > /sock\n"
             "RUN --mount=type=ssh,id=other,target=/agent test -S /agent && echo other > /other\n"
             "RUN --mount=type=ssh,id=absent test -z \"$SSH_AUTH_SOCK\" && echo none > /none\n");
  auto r = run({"env", "SSH_AUTH_SOCK=" + sock.string(), mkimg_binary(), "--root", store().string(),
                "build", "--progress", "plain", "-t", "ssh:1", "--ssh", "default", "--ssh",
                "other=" + sock.string(), dir("ctx").string()});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  auto ran = run_image("ssh:1", {"cat", "/sock", "/other", "/none"});
  EXPECT_EQ(ran.out, "/run/buildkit/ssh_agent.0\nother\nnone\n") << ran.all();
  write_file(dir("ctx") / "Dockerfile", "FROM busybox\nRUN --mount=type=ssh,required=true true\n");
  auto missing = build(dir("ctx"));
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("Dockerfile:2"), std::string::npos) << missing.err;
  auto not_socket = build(dir("ctx"), {"--ssh", "default=" + (dir("ctx") / "Dockerfile").string()});
  EXPECT_NE(not_socket.exit_code, 0);
  EXPECT_NE(not_socket.err.find("not an ssh-agent socket"), std::string::npos) << not_socket.err;
}

TEST_F(RunFeaturesTest, ContextDevicesAndSocketsBecomeEmptyFilesFifosAreLeftOut) {
  // What Docker's BuildKit does (tests/peers/copy_special_files compares with it).
  write_file(dir("ctx") / "Dockerfile",
             "FROM busybox\nCOPY . /ctx/\nCOPY null-dev /named\n"
             "RUN cd /ctx && for f in * /named; do stat -c '%n %F %a %s' $f; done > /listing\n");
  write_file(dir("ctx") / "plain.txt", "plain\n");
  auto made = run({"sh", "-c",
                   "cd \"$1\" && mkfifo -m 0640 fifo && mknod -m 0600 null-dev c 1 3 && "
                   "python3 -c 'import socket; socket.socket(socket.AF_UNIX).bind(\"sock\")' && "
                   "chmod 0751 sock",
                   "sh", dir("ctx").string()});
  ASSERT_EQ(made.exit_code, 0) << made.all();
  auto r = build(dir("ctx"), {"-t", "special:1"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  auto ran = run_image("special:1", {"cat", "/listing"});
  ASSERT_EQ(ran.exit_code, 0) << ran.all();
  EXPECT_EQ(ran.out, "Dockerfile regular file 644 " +
                         std::to_string(read_file(dir("ctx") / "Dockerfile").size()) +
                         "\nnull-dev regular empty file 600 0\nplain.txt regular file 644 6\n"
                         "sock regular empty file 751 0\n/named regular empty file 600 0\n");
}

}  // namespace
}  // namespace mkimg::testing
