// Each way a build can fail gives a clear error with the Dockerfile line, exits non-zero,
// and leaves the previous tag and the store intact.
#include <sys/stat.h>

#include "tests/support/builder_fixture.h"

namespace mkimg::testing {
namespace {

class FailureTest : public BuilderTest {
 protected:
  void SetUp() override {
    BuilderTest::SetUp();
    write_file(dir("ctx") / "Dockerfile", "FROM busybox\nRUN echo good > /good\n");
    write_file(dir("ctx") / "file.txt", "x\n");
    auto good = build(dir("ctx"), {"-t", "app:1"});
    ASSERT_EQ(good.exit_code, 0) << good.all();
    good_id_ = image_id(good);
  }

  /// Builds `dockerfile` as app:1 and checks the failure; returns stderr.
  std::string fail(const std::string& dockerfile, std::vector<std::string> extra = {}) {
    write_file(dir("ctx") / "Dockerfile", dockerfile);
    extra.insert(extra.begin(), {"-t", "app:1"});
    auto r = build(dir("ctx"), extra);
    EXPECT_NE(r.exit_code, 0) << r.all();
    EXPECT_NE(r.err.find("mkimg: error:"), std::string::npos) << r.err;
    auto still = run_image("app:1", {"cat", "/good"});
    EXPECT_EQ(still.exit_code, 0) << still.all();
    EXPECT_EQ(still.out, "good\n") << "the previous tag still names the previous image";
    return r.err;
  }

  std::string good_id_;
};

TEST_F(FailureTest, SyntaxErrorNamesTheLine) {
  auto err = fail("FROM busybox\nRUN echo ok\nFROBNICATE now\n");
  EXPECT_NE(err.find("Dockerfile:3"), std::string::npos) << err;
}

TEST_F(FailureTest, MissingCopySourceNamesTheLineAndTheFile) {
  auto err = fail("FROM busybox\nCOPY nothere.txt /x\n");
  EXPECT_NE(err.find("Dockerfile:2"), std::string::npos) << err;
  EXPECT_NE(err.find("nothere.txt"), std::string::npos) << err;
}

TEST_F(FailureTest, UnknownTargetStageIsNamed) {
  auto err = fail("FROM busybox AS one\nRUN true\n", {"--target", "nosuchstage"});
  EXPECT_NE(err.find("nosuchstage"), std::string::npos) << err;
}

TEST_F(FailureTest, FailingRunGivesItsExitCodeAndLastOutput) {
  auto err = fail("FROM busybox\nRUN echo step-one\nRUN echo about-to-fail && exit 3\n");
  EXPECT_NE(err.find("Dockerfile:3"), std::string::npos) << err;
  EXPECT_NE(err.find("exit code: 3"), std::string::npos) << err;
  EXPECT_NE(err.find("about-to-fail"), std::string::npos) << err;
}

TEST_F(FailureTest, FailingOnbuildTriggerIsPlacedOnce) {
  write_file(dir("ctx") / "Dockerfile", "FROM busybox\nONBUILD RUN exit 3\n");
  auto parent = build(dir("ctx"), {"-t", "parent:1"});
  ASSERT_EQ(parent.exit_code, 0) << parent.all();
  auto err = fail("FROM parent:1\n");
  EXPECT_NE(err.find("Dockerfile:1: process"), std::string::npos) << err;
  EXPECT_EQ(err.find("Dockerfile:1: Dockerfile:1:"), std::string::npos) << err;
  EXPECT_NE(err.find(" >>> RUN exit 3"), std::string::npos) << err;
}

TEST_F(FailureTest, UnknownBaseImageIsNamed) {
  auto err = fail("FROM localhost:1/does-not-exist:never\nRUN true\n");
  EXPECT_NE(err.find("Dockerfile:1"), std::string::npos) << err;
  EXPECT_NE(err.find("does-not-exist"), std::string::npos) << err;
}

TEST_F(FailureTest, BlankBaseNameIsRefusedAtItsFromLineAsBuildKitDoes) {
  auto err = fail("ARG B\nFROM $B\nRUN true\n");
  EXPECT_NE(err.find("Dockerfile:2: base name ($B) should not be blank"), std::string::npos) << err;
  // Any stage's, the target's or not (BuildKit checks every FROM before it builds).
  err = fail("ARG B\nFROM busybox AS one\nRUN true\nFROM ${B} AS unused\n", {"--target", "one"});
  EXPECT_NE(err.find("Dockerfile:4: base name (${B}) should not be blank"), std::string::npos)
      << err;
}

TEST_F(FailureTest, MountTargetThatResolvesToTheRootIsRefused) {
  // No target and no WORKDIR: BuildKit's mount point would be "/" (the error names the line).
  auto err = fail("FROM busybox\nRUN true\nRUN --mount=type=cache true\n");
  EXPECT_NE(err.find("Dockerfile:3: invalid mount target \"/\""), std::string::npos) << err;
  err = fail("FROM busybox\nWORKDIR /src\nRUN --mount=type=bind,target=.. true\n");
  EXPECT_NE(err.find("Dockerfile:3: invalid mount target \"/\""), std::string::npos) << err;
  err = fail("FROM busybox AS s\nFROM busybox\nRUN --mount=from=s,target=/ true\n");
  EXPECT_NE(err.find("Dockerfile:3: invalid mount target \"/\""), std::string::npos) << err;
}

TEST_F(FailureTest, CycleBetweenStagesIsNamed) {
  auto err = fail(
      "FROM busybox AS a\nCOPY --from=b /x /x\n"
      "FROM busybox AS b\nCOPY --from=a /y /y\n");
  EXPECT_NE(err.find("cycle"), std::string::npos) << err;
}

TEST_F(FailureTest, NoWorkingRuntimeIsExplained) {
  auto err = fail("FROM busybox\nRUN echo never\n", {"--runtime", "/nonexistent/runc"});
  EXPECT_NE(err.find("Dockerfile:2"), std::string::npos) << err;
  EXPECT_NE(err.find("runc"), std::string::npos) << err;
}

// A file named .wh.* would be a deletion in every other store (save/load, umoci): refused by
// name, whether it comes from the context (both COPY paths) or a RUN makes it.
TEST_F(FailureTest, ContextFileNamedAsAWhiteoutIsRefusedByName) {
  write_file(dir("ctx") / "sub" / ".wh.hidden", "x\n");
  auto err = fail("FROM busybox\nCOPY sub /sub/\n");
  EXPECT_NE(err.find("sub/.wh.hidden"), std::string::npos) << err;
  EXPECT_NE(err.find("Dockerfile:2"), std::string::npos) << err;
  fs::remove_all(dir("ctx") / "sub");
}

TEST_F(FailureTest, RunThatMakesAWhiteoutNameIsRefusedByName) {
  auto err = fail("FROM busybox\nRUN touch /.wh.made\n");
  EXPECT_NE(err.find(".wh.made"), std::string::npos) << err;
}

TEST_F(FailureTest, ExposeOfWhatIsNotAPortNamesItAndTheLine) {
  for (const auto& [port, says] : std::vector<std::pair<std::string, std::string>>{
           {"abc", "`abc` is not a port"},
           {"99999", "`99999` is not a port"},
           {"80/bogus", "`bogus` is not a protocol"},
           {"90-80", "the range ends before it starts"},
           {"-1", "is not a port"}}) {
    auto err = fail("FROM busybox\nEXPOSE 22 " + port + "\n");
    EXPECT_NE(err.find("Dockerfile:2"), std::string::npos) << port << ": " << err;
    EXPECT_NE(err.find(says), std::string::npos) << port << ": " << err;
  }
}

// --iidfile and --output dest= are written through, never renamed over a FIFO or a device.
TEST_F(FailureTest, OutputsNeverReplaceWhatIsNotARegularFile) {
  fs::path fifo = dir("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  auto err = fail("FROM busybox\nRUN echo good > /good\n", {"--iidfile", fifo.string()});
  EXPECT_NE(err.find("`" + fifo.string() + "`: it is a FIFO"), std::string::npos) << err;
  err = fail("FROM busybox\nRUN echo good > /good\n",
             {"--output", "type=docker,dest=" + fifo.string()});
  EXPECT_NE(err.find("it is a FIFO"), std::string::npos) << err;
  EXPECT_TRUE(fs::is_fifo(fifo));
}

TEST_F(FailureTest, PlatformsThatCannotBeBuiltAreNamed) {
  auto err = fail("FROM --platform=notaplatform busybox\nRUN true\n");
  EXPECT_NE(err.find("Dockerfile:1"), std::string::npos) << err;
  EXPECT_NE(err.find("parse platform `notaplatform`"), std::string::npos) << err;
  // The local busybox is amd64 (or the host's): never built on as if it were arm64.
  err = fail("FROM busybox\nRUN true\n", {"--platform", "linux/riscv64"});
  EXPECT_NE(err.find("the image is for linux/"), std::string::npos) << err;
  EXPECT_NE(err.find("the build asks for linux/riscv64"), std::string::npos) << err;
  // No emulator exists for vax (setup-binfmt may have registered every QEMU there is): the
  // RUN says so instead of running anything. An emulator that is not registered:
  // emulation_test.cpp.
  write_file(dir("ctx") / "file.txt", "x\n");
  err = fail("FROM --platform=linux/vax scratch\nCOPY file.txt /\nRUN true\n");
  EXPECT_NE(err.find("Dockerfile:3"), std::string::npos) << err;
  EXPECT_NE(err.find("cannot run programs for linux/vax"), std::string::npos) << err;
  EXPECT_NE(err.find("mkimg knows no QEMU emulator for vax"), std::string::npos) << err;
  // $BUILDPLATFORM is the host's, so this builds.
  write_file(dir("ctx") / "Dockerfile", "FROM --platform=$BUILDPLATFORM busybox\nRUN true\n");
  auto ok = build(dir("ctx"), {"-t", "native:1"});
  EXPECT_EQ(ok.exit_code, 0) << ok.all();
}

TEST_F(FailureTest, ExposeRecordsPortsAsBuildKitDoes) {
  write_file(dir("ctx") / "Dockerfile",
             "FROM busybox\nEXPOSE 80/TCP 8000-8001/udp 127.0.0.1:8080:81 53/sctp\n");
  auto r = build(dir("ctx"), {"-t", "ports:1"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  auto inspected = run_mkimg(store(), {"inspect", "ports:1"});
  for (const char* p :
       {"\"80/tcp\"", "\"8000/udp\"", "\"8001/udp\"", "\"81/tcp\"", "\"53/sctp\""}) {
    EXPECT_NE(inspected.out.find(p), std::string::npos) << p << "\n" << inspected.out;
  }
}

// `-f /dev/zero` (or any huge file) is refused past 64 MiB instead of eating the memory.
TEST_F(FailureTest, HugeDockerfileIsRefusedWithItsName) {
  auto r = build(dir("ctx"), {"-t", "app:1", "-f", "/dev/zero"});
  EXPECT_NE(r.exit_code, 0) << r.all();
  EXPECT_NE(r.err.find("/dev/zero"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("64 MiB"), std::string::npos) << r.err;
}

TEST_F(FailureTest, SourceDateEpochThatIsNotANumberIsRefusedByName) {
  for (const char* bad : {"yesterday", "-1", "99999999999999999999"}) {
    auto r = run_mkimg(store(), {"build", "-t", "app:1", dir("ctx").string()},
                       {{"SOURCE_DATE_EPOCH", bad}});
    EXPECT_EQ(r.exit_code, 1) << r.all();
    EXPECT_NE(r.err.find("mkimg: error: read `SOURCE_DATE_EPOCH`: not a number of seconds: " +
                         std::string(bad)),
              std::string::npos)
        << r.err;
  }
}

}  // namespace
}  // namespace mkimg::testing
