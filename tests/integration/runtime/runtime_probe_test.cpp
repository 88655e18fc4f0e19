// The runtime probe memo (<root>/cache/runtime-probe): a runtime that answered `--version`
// is not asked again while its binary is unchanged; a changed binary is asked again, and one
// that no longer answers is refused. The runtime is a shell wrapper around the real runc that
// logs how it was called.
#include <sys/stat.h>
#include <unistd.h>

#include "tests/support/builder_fixture.h"

namespace mkimg::testing {
namespace {

class RuntimeProbeTest : public BuilderTest {
 protected:
  void SetUp() override {
    BuilderTest::SetUp();
    if (IsSkipped()) return;
    for (const char* d : {"/usr/sbin", "/usr/bin", "/sbin", "/bin"}) {
      if (::access((fs::path(d) / "runc").c_str(), X_OK) == 0) runc_ = fs::path(d) / "runc";
    }
    if (runc_.empty()) GTEST_SKIP() << "runc is not installed";
    write_file(dir("ctx") / "Dockerfile", "FROM busybox\nRUN echo probed > /probed\n");
    write_wrapper("");
  }

  /// The wrapper: logs its first argument (`--version`, or `--root` for a run), then `extra`,
  /// then runs runc.
  void write_wrapper(const std::string& extra) {
    write_file(wrapper(), "#!/bin/sh\necho \"$1\" >> " + log().string() + "\n" + extra + "exec " +
                              runc_.string() + " \"$@\"\n");
    ::chmod(wrapper().c_str(), 0755);
  }

  fs::path wrapper() const { return dir("runtime") / "wrapped-runc"; }
  fs::path log() const { return dir("runtime") / "calls"; }

  CommandResult build_with_wrapper() {
    return build(dir("ctx"), {"--no-cache", "--runtime", wrapper().string(), "-t", "probed"});
  }

  fs::path runc_;
};

TEST_F(RuntimeProbeTest, AnUnchangedRuntimeIsAskedOnce) {
  auto first = build_with_wrapper();
  ASSERT_EQ(first.exit_code, 0) << first.all();
  EXPECT_EQ(count(read_file(log()), "--version"), 1) << read_file(log());
  EXPECT_TRUE(fs::exists(store() / "cache/runtime-probe"));

  auto second = build_with_wrapper();
  ASSERT_EQ(second.exit_code, 0) << second.all();
  EXPECT_EQ(count(read_file(log()), "--version"), 1) << "asked again: " << read_file(log());
  EXPECT_EQ(count(read_file(log()), "--root"), 2) << read_file(log());  // both RUN steps ran

  auto ran = run_image("probed", {"cat", "/probed"});
  EXPECT_EQ(ran.out, "probed\n") << ran.all();
}

TEST_F(RuntimeProbeTest, AChangedRuntimeIsAskedAgain) {
  ASSERT_EQ(build_with_wrapper().exit_code, 0);
  write_wrapper("# changed\n");
  auto again = build_with_wrapper();
  ASSERT_EQ(again.exit_code, 0) << again.all();
  EXPECT_EQ(count(read_file(log()), "--version"), 2) << read_file(log());
}

TEST_F(RuntimeProbeTest, ARuntimeThatStoppedAnsweringIsRefused) {
  ASSERT_EQ(build_with_wrapper().exit_code, 0);
  write_wrapper("[ \"$1\" = --version ] && exit 1\n");
  auto broken = build_with_wrapper();
  EXPECT_NE(broken.exit_code, 0) << broken.all();
  EXPECT_NE(broken.err.find("--version` failed"), std::string::npos) << broken.err;
  EXPECT_EQ(count(read_file(log()), "--root"), 1) << "the broken runtime ran a step";
}

TEST_F(RuntimeProbeTest, ADamagedMemoOnlyMeansAskingAgain) {
  fs::create_directories(store() / "cache");
  write_file(store() / "cache/runtime-probe", std::string(100, '\0'));
  auto built = build_with_wrapper();
  ASSERT_EQ(built.exit_code, 0) << built.all();
  EXPECT_EQ(count(read_file(log()), "--version"), 1) << read_file(log());
  auto again = build_with_wrapper();
  ASSERT_EQ(again.exit_code, 0) << again.all();
  EXPECT_EQ(count(read_file(log()), "--version"), 1) << read_file(log());
}

}  // namespace
}  // namespace mkimg::testing
