// `mkimg run`'s docker run flags with the real binary and runc: -e and --env-file reach the
// process and override the image's ENV, -v and --mount bind host paths read-only or
// read-write, --user, --workdir, --entrypoint, -p is refused, --name is the runtime's id and
// held while the container runs and until a killed run's clean-up is done, -i passes stdin on, -t
// needs and gets a terminal; the container's exit code is mkimg's throughout.
#include <signal.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/builder_fixture.h"

namespace mkimg::testing {
namespace {

class RunFlagsTest : public BuilderTest {
 protected:
  /// A container a failed test left running is killed (its init ignores anything else).
  void TearDown() override {
    run({"pkill", "-KILL", "-f", "^sleep [0-9]+" + std::to_string(::getpid()) + "$"});
    BuilderTest::TearDown();
  }

  CommandResult mkimg_run(std::vector<std::string> args,
                          const std::map<std::string, std::string>& env = {},
                          const std::string& input = "") {
    args.insert(args.begin(), "run");
    return run_mkimg(store(), args, env, input);
  }

  /// Builds `dockerfile` as `tag`.
  void build_image(const std::string& tag, const std::string& dockerfile) {
    write_file(dir("ctx-" + tag) / "Dockerfile", dockerfile);
    auto built = build(dir("ctx-" + tag), {"-t", tag});
    ASSERT_EQ(built.exit_code, 0) << built.all();
  }

  /// `mkimg run --name NAME busybox sleep <long>` in the background (output to first.log);
  /// TearDown kills its container if the test does not.
  ChildProcess run_named_sleep(const std::string& name) {
    return ChildProcess({mkimg_binary(), "--root", store().string(), "run", "--name", name,
                         "busybox", "sleep", "3" + std::to_string(::getpid())},
                        dir("first.log"));
  }

  static bool contains(const std::string& text, const std::string& what) {
    return text.find(what) != std::string::npos;
  }
};

TEST_F(RunFlagsTest, EnvFlagsAndEnvFileReachTheProcessAndOverrideTheImageEnv) {
  build_image("envimg", "FROM busybox\nENV A=image B=image KEEP=image\n");
  write_file(dir("vars.env"),
             "# a comment\n"
             "\n"
             "A=from file\n"
             "  INDENTED=yes\n"
             "FROM_HOST\n"
             "NOT_SET_ANYWHERE\n"
             "EQ=x=y\n");
  auto r = mkimg_run({"--env-file", dir("vars.env").string(), "-e", "B=flag", "-e", "PASSED_ON",
                      "-e", "MKIMG_TEST_SURELY_UNSET", "--env=C=long", "envimg", "sh", "-c",
                      "echo \"A=$A|B=$B|KEEP=$KEEP|C=$C|INDENTED=$INDENTED|FROM_HOST=$FROM_HOST|"
                      "EQ=$EQ|PASSED_ON=$PASSED_ON\"; env | grep -c -e ^NOT_SET_ANYWHERE= "
                      "-e ^MKIMG_TEST_SURELY_UNSET= || true"},
                     {{"FROM_HOST", "host value"}, {"PASSED_ON", "passed"}});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(r.out,
            "A=from file|B=flag|KEEP=image|C=long|INDENTED=yes|FROM_HOST=host value|EQ=x=y|"
            "PASSED_ON=passed\n0\n");
}

TEST_F(RunFlagsTest, AnEnvFlagOverridesTheEnvFileAndTheLastFlagWins) {
  write_file(dir("vars.env"), "A=file\n");
  auto r = mkimg_run({"-e", "A=first", "--env-file", dir("vars.env").string(), "-e", "A=last",
                      "busybox", "sh", "-c", "echo $A; env | grep -c ^A="});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(r.out, "last\n1\n");
}

TEST_F(RunFlagsTest, EnvFileErrorsNameTheFileAndLine) {
  write_file(dir("bad.env"), "GOOD=1\n# fine\nBAD NAME=2\n");
  auto r = mkimg_run({"--env-file", dir("bad.env").string(), "busybox", "true"});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_TRUE(contains(r.err, dir("bad.env").string() + ":3")) << r.err;
  EXPECT_TRUE(contains(r.err, "BAD NAME")) << r.err;
  write_file(dir("noname.env"), "=2\n");
  r = mkimg_run({"--env-file", dir("noname.env").string(), "busybox", "true"});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_TRUE(contains(r.err, dir("noname.env").string() + ":1")) << r.err;
  r = mkimg_run({"--env-file", dir("missing.env").string(), "busybox", "true"});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_TRUE(contains(r.err, dir("missing.env").string())) << r.err;
  r = mkimg_run({"-e", "=value", "busybox", "true"});
  EXPECT_EQ(r.exit_code, 2) << r.all();
  EXPECT_TRUE(contains(r.err, "=value")) << r.err;
}

TEST_F(RunFlagsTest, TheContainersExitCodeIsPassedOn) {
  auto r = mkimg_run({"-e", "CODE=7", "busybox", "sh", "-c", "exit $CODE"});
  EXPECT_EQ(r.exit_code, 7) << r.all();
  r = mkimg_run({"--entrypoint", "sh", "-w", "/tmp", "busybox", "-c", "exit 9"});
  EXPECT_EQ(r.exit_code, 9) << r.all();
}

TEST_F(RunFlagsTest, VolumeReadOnlyRefusesWritesReadWriteWritesReachTheHost) {
  write_file(dir("host/in.txt"), "from the host\n");
  auto ro = mkimg_run({"-v", dir("host").string() + ":/data:ro", "busybox", "sh", "-c",
                       "cat /data/in.txt; echo x > /data/out.txt"});
  EXPECT_NE(ro.exit_code, 0) << ro.all();
  EXPECT_EQ(ro.out, "from the host\n");
  EXPECT_TRUE(contains(ro.err, "Read-only file system")) << ro.err;
  EXPECT_FALSE(fs::exists(dir("host/out.txt")));

  auto rw = mkimg_run({"--volume", dir("host").string() + ":/data:rw", "-v",
                       dir("host/in.txt").string() + ":/etc/in.txt", "busybox", "sh", "-c",
                       "cat /etc/in.txt; echo written > /data/out.txt"});
  ASSERT_EQ(rw.exit_code, 0) << rw.all();
  EXPECT_EQ(rw.out, "from the host\n");
  EXPECT_EQ(read_file(dir("host/out.txt")), "written\n");

  auto mount_ro =
      mkimg_run({"--mount", "type=bind,source=" + dir("host").string() + ",target=/m,readonly",
                 "busybox", "sh", "-c", "cat /m/out.txt; touch /m/new"});
  EXPECT_NE(mount_ro.exit_code, 0) << mount_ro.all();
  EXPECT_EQ(mount_ro.out, "written\n");
  EXPECT_FALSE(fs::exists(dir("host/new")));
  auto mount_rw = mkimg_run({"--mount", "type=bind,src=" + dir("host").string() + ",dst=/m",
                             "busybox", "touch", "/m/new"});
  EXPECT_EQ(mount_rw.exit_code, 0) << mount_rw.all();
  EXPECT_TRUE(fs::exists(dir("host/new")));
}

TEST_F(RunFlagsTest, BadVolumeValuesAreClearErrorsNamingThem) {
  fs::create_directories(dir("host"));
  const std::string host = dir("host").string();
  struct Case {
    std::string flag, value, says;
    int code;
  };
  const std::vector<Case> cases{
      {"-v", "/data", "anonymous volumes are not supported", 2},
      {"-v", "named:/data", "not absolute", 2},
      {"-v", host + ":data", "not absolute", 2},
      {"-v", host + ":/data:z", "unsupported mode `z`", 2},
      {"-v", host + ":/data:ro:x", "expected SRC:DST[:ro|rw]", 2},
      {"-v", host + ":/", "cannot be `/`", 2},
      {"--mount", "type=volume,target=/data", "unsupported mount type `volume`", 2},
      {"--mount", "type=bind,source=" + host + ",target=/d,bind-propagation=shared",
       "unsupported field", 2},
      {"-v", dir("missing").string() + ":/data", "must exist", 1},
  };
  for (const auto& c : cases) {
    auto r = mkimg_run({c.flag, c.value, "busybox", "true"});
    EXPECT_EQ(r.exit_code, c.code) << c.value << ": " << r.all();
    EXPECT_TRUE(contains(r.err, c.says)) << c.value << ": " << r.err;
    EXPECT_TRUE(contains(r.err, c.value.substr(0, c.value.find(':')))) << r.err;
  }
  auto twice = mkimg_run({"-v", host + ":/d", "-v", host + ":/d/", "busybox", "true"});
  EXPECT_EQ(twice.exit_code, 1) << twice.all();
  EXPECT_TRUE(contains(twice.err, "duplicate mount point")) << twice.err;
}

TEST_F(RunFlagsTest, UserByNameAndByIds) {
  build_image("userimg", "FROM busybox\nUSER nobody\n");
  auto image_user = mkimg_run({"userimg", "id"});
  ASSERT_EQ(image_user.exit_code, 0) << image_user.all();
  EXPECT_TRUE(contains(image_user.out, "uid=65534(nobody)")) << image_user.out;
  auto root = mkimg_run({"-u", "root", "userimg", "id", "-u"});
  ASSERT_EQ(root.exit_code, 0) << root.all();
  EXPECT_EQ(root.out, "0\n");
  auto ids = mkimg_run({"--user", "1234:5678", "busybox", "sh", "-c", "echo $(id -u):$(id -g)"});
  ASSERT_EQ(ids.exit_code, 0) << ids.all();
  EXPECT_EQ(ids.out, "1234:5678\n");
  auto named =
      mkimg_run({"-u", "nobody:nogroup", "busybox", "sh", "-c", "echo $(id -un):$(id -gn)"});
  ASSERT_EQ(named.exit_code, 0) << named.all();
  EXPECT_EQ(named.out, "nobody:nogroup\n");
  auto unknown = mkimg_run({"-u", "nosuchuser", "busybox", "id"});
  EXPECT_EQ(unknown.exit_code, 1) << unknown.all();
  EXPECT_TRUE(contains(unknown.err, "nosuchuser")) << unknown.err;
}

TEST_F(RunFlagsTest, WorkdirIsTheWorkingDirectoryAndIsMadeWhenMissing) {
  auto existing = mkimg_run({"-w", "/etc", "busybox", "pwd"});
  ASSERT_EQ(existing.exit_code, 0) << existing.all();
  EXPECT_EQ(existing.out, "/etc\n");
  auto made =
      mkimg_run({"--workdir", "/new/dir", "busybox", "sh", "-c", "pwd; stat -c '%U %a' /new/dir"});
  ASSERT_EQ(made.exit_code, 0) << made.all();
  EXPECT_EQ(made.out, "/new/dir\nroot 755\n");
  auto relative = mkimg_run({"-w", "rel", "busybox", "pwd"});
  EXPECT_EQ(relative.exit_code, 2) << relative.all();
  EXPECT_TRUE(contains(relative.err, "`rel`")) << relative.err;
}

TEST_F(RunFlagsTest, EntrypointReplacesTheImagesEntrypointAndCmd) {
  build_image("entryimg",
              "FROM busybox\nENTRYPOINT [\"echo\", \"image-entry\"]\nCMD [\"image-cmd\"]\n");
  auto plain = mkimg_run({"entryimg"});
  ASSERT_EQ(plain.exit_code, 0) << plain.all();
  EXPECT_EQ(plain.out, "image-entry image-cmd\n");
  auto replaced = mkimg_run({"--entrypoint", "/bin/echo", "entryimg"});
  ASSERT_EQ(replaced.exit_code, 0) << replaced.all();
  EXPECT_EQ(replaced.out, "\n") << "the image's CMD must not follow a new entrypoint";
  auto with_command = mkimg_run({"--entrypoint", "/bin/echo", "entryimg", "given", "-n"});
  ASSERT_EQ(with_command.exit_code, 0) << with_command.all();
  EXPECT_EQ(with_command.out, "given -n\n");
  auto cleared = mkimg_run({"--entrypoint", "", "entryimg", "echo", "no", "entrypoint"});
  ASSERT_EQ(cleared.exit_code, 0) << cleared.all();
  EXPECT_EQ(cleared.out, "no entrypoint\n");
  auto cleared_equals = mkimg_run({"--entrypoint=", "entryimg", "echo", "x"});
  ASSERT_EQ(cleared_equals.exit_code, 0) << cleared_equals.all();
  EXPECT_EQ(cleared_equals.out, "x\n");
  auto nothing = mkimg_run({"--entrypoint", "", "entryimg"});
  EXPECT_EQ(nothing.exit_code, 1) << nothing.all();
  EXPECT_TRUE(contains(nothing.err, "no command")) << nothing.err;
}

TEST_F(RunFlagsTest, PublishIsNotApplicable) {
  auto host = mkimg_run({"-p", "8080:80", "busybox", "true"});
  EXPECT_NE(host.exit_code, 0) << host.all();
  EXPECT_TRUE(contains(host.err, "not applicable")) << host.err;
  EXPECT_TRUE(contains(host.err, "--network host")) << host.err;
  EXPECT_TRUE(contains(host.err, "8080:80")) << host.err;
  auto none = mkimg_run({"--network", "none", "--publish", "80", "busybox", "true"});
  EXPECT_NE(none.exit_code, 0) << none.all();
  EXPECT_TRUE(contains(none.err, "nothing to publish")) << none.err;
}

TEST_F(RunFlagsTest, NameIsTheContainersIdAndASecondRunOfItFails) {
  const fs::path state = store() / "tmp/runtime-state/web.1";
  ChildProcess first = run_named_sleep("web.1");
  ASSERT_TRUE(wait_until([&] { return fs::exists(state); }, std::chrono::minutes(2)))
      << read_file(dir("first.log"));
  auto second = mkimg_run({"--name", "web.1", "busybox", "true"});
  EXPECT_EQ(second.exit_code, 1) << second.all();
  EXPECT_TRUE(contains(second.err, "web.1")) << second.err;
  EXPECT_TRUE(contains(second.err, "already in use")) << second.err;
  EXPECT_TRUE(fs::exists(state)) << "the second run must leave the first's container alone";
  EXPECT_TRUE(first.running());
  first.kill();  // SIGKILL: the reaper deletes the named container too
  EXPECT_TRUE(wait_until([&] { return !fs::exists(state); }, std::chrono::minutes(1)))
      << "the named container outlived its mkimg";
  auto again = mkimg_run({"--name", "web.1", "busybox", "echo", "free"});
  EXPECT_EQ(again.exit_code, 0) << again.all();
  EXPECT_EQ(again.out, "free\n");
  auto invalid = mkimg_run({"--name", "-bad/name", "busybox", "true"});
  EXPECT_EQ(invalid.exit_code, 2) << invalid.all();
  EXPECT_TRUE(contains(invalid.err, "invalid container name")) << invalid.err;
}

/// The pid of the container reaper of `store`'s runtime state (argv: sh -c SCRIPT
/// mkimg-reaper RUNTIME STATE_ROOT PREFIX), or -1.
pid_t reaper_of(const fs::path& store) {
  const std::string state_root = (store / "tmp/runtime-state").string();
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string pid = entry.path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmdline;
    try {
      cmdline = read_file(entry.path() / "cmdline");
    } catch (const std::exception&) {
      continue;  // it ended meanwhile
    }
    std::vector<std::string> argv;
    for (std::size_t start = 0; start < cmdline.size();) {
      auto end = cmdline.find('\0', start);
      if (end == std::string::npos) end = cmdline.size();
      argv.push_back(cmdline.substr(start, end - start));
      start = end + 1;
    }
    if (argv.size() >= 6 && argv[3] == "mkimg-reaper" && argv[5] == state_root) {
      return static_cast<pid_t>(std::stol(pid));
    }
  }
  return -1;
}

TEST_F(RunFlagsTest, ANewRunOfANameWaitsUntilAKilledRunsCleanUpIsDone) {
  const fs::path state = store() / "tmp/runtime-state/web.2";
  ChildProcess first = run_named_sleep("web.2");
  ASSERT_TRUE(wait_until([&] { return fs::exists(state); }, std::chrono::minutes(2)))
      << read_file(dir("first.log"));
  const pid_t reaper = reaper_of(store());
  ASSERT_GT(reaper, 0);
  // The killed run's reaper is held back, as if slow: it still has the name's container to
  // delete, and deleting it must not take the new run's container of the same name.
  ASSERT_EQ(::kill(reaper, SIGSTOP), 0);
  first.kill();
  ChildProcess second({mkimg_binary(), "--root", store().string(), "run", "--name", "web.2",
                       "busybox", "sh", "-c", "echo started; sleep 1; echo free"},
                      dir("second.log"));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_TRUE(second.running());
  EXPECT_EQ(read_file(dir("second.log")), "") << "the new run started before the old was gone";
  ASSERT_EQ(::kill(reaper, SIGCONT), 0);
  EXPECT_EQ(second.wait(), 0) << read_file(dir("second.log"));
  EXPECT_EQ(read_file(dir("second.log")), "started\nfree\n");
  EXPECT_FALSE(fs::exists(state));
}

TEST_F(RunFlagsTest, StdinReachesTheContainerOnlyWithInteractive) {
  auto closed = mkimg_run({"busybox", "cat"}, {}, "typed\n");
  ASSERT_EQ(closed.exit_code, 0) << closed.all();
  EXPECT_EQ(closed.out, "");
  auto open = mkimg_run({"-i", "busybox", "cat"}, {}, "typed\n");
  ASSERT_EQ(open.exit_code, 0) << open.all();
  EXPECT_EQ(open.out, "typed\n");
}

TEST_F(RunFlagsTest, TtyWithoutATerminalIsAClearError) {
  for (const char* flag : {"-t", "-it", "--tty"}) {
    auto r = mkimg_run({flag, "busybox", "tty"});
    EXPECT_EQ(r.exit_code, 1) << flag << ": " << r.all();
    EXPECT_TRUE(contains(r.err, "the input device is not a TTY")) << r.err;
    EXPECT_EQ(r.out, "");
  }
}

TEST_F(RunFlagsTest, TtyGivesTheContainerAPseudoTerminal) {
  if (!have_tool("script")) GTEST_SKIP() << "script (util-linux) is not installed";
  // script(1) runs mkimg on a new pseudo-terminal; -e passes the exit code on.
  const std::string command = mkimg_binary() + " --root " + store().string() +
                              " run -t busybox sh -c 'tty; echo term=$TERM; exit 4'";
  auto r = run({"script", "-qec", command, "/dev/null"});
  EXPECT_EQ(r.exit_code, 4) << r.all();
  EXPECT_TRUE(contains(r.out, "/dev/pts/")) << r.out;
  EXPECT_TRUE(contains(r.out, "term=xterm")) << r.out;
  auto without =
      run({"script", "-qec", mkimg_binary() + " --root " + store().string() + " run busybox tty",
           "/dev/null"});
  EXPECT_TRUE(contains(without.out, "not a tty")) << without.out;
}

}  // namespace
}  // namespace mkimg::testing
