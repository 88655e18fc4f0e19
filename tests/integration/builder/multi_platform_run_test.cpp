// Multi-platform builds that RUN: linux/amd64 natively and linux/arm64 under QEMU in one build,
// on a two-platform busybox base (Debian's amd64 and arm64 busybox-static, itself built as one
// index by mkimg): `uname -m` per platform, the Go-style cross-compiling Dockerfile whose build
// stage runs natively (`FROM --platform=$BUILDPLATFORM`), the examples for two platforms, and
// `mkimg verify` of both platforms of a reproducible build.
#include <nlohmann/json.hpp>

#include "oci/descriptor.h"
#include "tests/support/emulation_fixture.h"
#include "tests/support/registry_fixture.h"

namespace mkimg::testing {
namespace {

using json = nlohmann::json;

class MultiPlatformRun : public EmulationTest {
 protected:
  void SetUp() override {
    EmulationTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    if (oci::host_platform().architecture != "amd64") GTEST_SKIP() << "written for amd64 hosts";
    // "multi-bb": one index over the amd64 and the arm64 busybox roots.
    fs::path ctx = dir("multi-bb");
    fs::create_directories(ctx);
    ASSERT_EQ(run({"cp", "-a", dir("busybox").string(), (ctx / "root-amd64").string()}).exit_code,
              0);
    ASSERT_EQ(
        run({"cp", "-a", dir("busybox-arm64").string(), (ctx / "root-arm64").string()}).exit_code,
        0);
    write_file(ctx / "Dockerfile", "FROM scratch\nARG TARGETARCH\nCOPY root-$TARGETARCH/ /\n");
    auto made = build(ctx, {"--platform", "linux/amd64,linux/arm64", "-t", "multi-bb"});
    ASSERT_EQ(made.exit_code, 0) << made.all();
  }

  /// The ELF machine of a file: 62 for x86-64, 183 for AArch64.
  static int elf_machine(const fs::path& file) {
    std::string bytes = read_file(file);
    if (bytes.size() < 20 || bytes.compare(0, 4,
                                           "\x7f"
                                           "ELF") != 0) {
      return -1;
    }
    return static_cast<unsigned char>(bytes[18]) | static_cast<unsigned char>(bytes[19]) << 8;
  }
};

TEST_F(MultiPlatformRun, EachPlatformRunsItsOwnProgramsInOneBuild) {
  write_file(dir("ctx") / "Dockerfile", "FROM multi-bb\nRUN uname -m > /arch\n");
  auto r = build(dir("ctx"), {"--platform", "linux/amd64,linux/arm64", "-t", "arch:1", "-o",
                              "type=local,dest=" + dir("out").string(), "-o",
                              "type=oci,dest=" + dir("layout").string()});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(read_file(dir("out") / "linux_amd64/arch"), "x86_64\n");
  EXPECT_EQ(read_file(dir("out") / "linux_arm64/arch"), "aarch64\n");
  EXPECT_EQ(elf_machine(dir("out") / "linux_arm64/bin/busybox"), 183);
  EXPECT_EQ(elf_machine(dir("out") / "linux_amd64/bin/busybox"), 62);
  auto arm = run(
      {"skopeo", "--override-arch", "arm64", "inspect", "oci:" + dir("layout").string() + ":1"});
  ASSERT_EQ(arm.exit_code, 0) << arm.all();
  EXPECT_EQ(json::parse(arm.out).value("Architecture", ""), "arm64");
}

TEST_F(MultiPlatformRun, ATwoPlatformBaseServedByARegistryGivesEachPlatformItsImage) {
  Registry registry(RegistryMode::kHttp);
  std::string base = registry.host() + "/multi-bb:1";
  ASSERT_EQ(run_mkimg(store(), {"tag", "multi-bb", base}).exit_code, 0);
  auto pushed = run_mkimg(store(), {"push", "--insecure-registry", registry.host(), base});
  ASSERT_EQ(pushed.exit_code, 0) << pushed.all();
  // A fresh store (a CI runner): each platform pulls its own manifest of the index.
  write_file(dir("ctx") / "Dockerfile", "FROM " + base + "\nRUN uname -m > /arch\n");
  auto r = run_mkimg(dir("fresh"),
                     {"build", "--progress", "plain", "--platform", "linux/amd64,linux/arm64",
                      "--insecure-registry", registry.host(), "-o",
                      "type=local,dest=" + dir("out").string(), dir("ctx").string()});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(read_file(dir("out") / "linux_amd64/arch"), "x86_64\n");
  EXPECT_EQ(read_file(dir("out") / "linux_arm64/arch"), "aarch64\n");
}

TEST_F(MultiPlatformRun, ABuildPlatformStageRunsNativelyForEveryTarget) {
  write_file(dir("ctx") / "Dockerfile",
             "FROM --platform=$BUILDPLATFORM multi-bb AS build\n"
             "ARG TARGETARCH TARGETPLATFORM BUILDPLATFORM\n"
             "RUN echo \"on $(uname -m) ($BUILDPLATFORM) for $TARGETARCH ($TARGETPLATFORM)\""
             " > /out\n"
             "FROM multi-bb\n"
             "COPY --from=build /out /out\n"
             "RUN uname -m > /arch\n");
  auto r = build(dir("ctx"), {"--platform", "linux/amd64,linux/arm64", "-o",
                              "type=local,dest=" + dir("out").string()});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(read_file(dir("out") / "linux_arm64/out"),
            "on x86_64 (linux/amd64) for arm64 (linux/arm64)\n");
  EXPECT_EQ(read_file(dir("out") / "linux_amd64/out"),
            "on x86_64 (linux/amd64) for amd64 (linux/amd64)\n");
  EXPECT_EQ(read_file(dir("out") / "linux_arm64/arch"), "aarch64\n");
}

TEST_F(MultiPlatformRun, TheExamplesBuildForTwoPlatforms) {
  struct Case {
    std::string name;
    std::vector<std::string> flags;
    std::string file, says;
  };
  for (const auto& c : std::vector<Case>{
           {"hello",
            {"--build-context", "busybox=docker-image://multi-bb"},
            "built-by",
            "built by mkimg\n"},
           {"multi-stage", {"--build-context", "busybox=docker-image://multi-bb"}, "greet.sh", ""},
           {"build-args",
            {"--build-arg", "BASE=multi-bb", "--build-arg", "AUDIENCE=tests"},
            "app/message.txt",
            "Hello, tests!\n"}}) {
    fs::path out = dir("out-" + c.name);
    std::vector<std::string> args{
        "--platform", "linux/amd64,linux/arm64",
        "-t",         c.name + ":2",
        "-o",         "type=local,dest=" + out.string(),
        "-o",         "type=oci,dest=" + dir("layout-" + c.name).string()};
    args.insert(args.end(), c.flags.begin(), c.flags.end());
    auto r = build(source_dir() / "examples" / c.name, args);
    ASSERT_EQ(r.exit_code, 0) << c.name << "\n" << r.all();
    for (const std::string p : {"linux_amd64", "linux_arm64"}) {
      ASSERT_TRUE(fs::exists(out / p / c.file)) << c.name << " " << p;
      if (!c.says.empty()) {
        EXPECT_EQ(read_file(out / p / c.file), c.says) << c.name << " " << p;
      }
    }
    EXPECT_EQ(elf_machine(out / "linux_arm64/bin/busybox"), 183) << c.name;
    auto check = run({"oci-image-tool", "validate", "--type", "image", "--ref", "name=2",
                      dir("layout-" + c.name).string()});
    EXPECT_EQ(check.exit_code, 0) << check.all();
  }
}

TEST_F(MultiPlatformRun, VerifyRebuildsBothPlatformsOfAReproducibleBuild) {
  write_file(dir("ctx") / "Dockerfile",
             "FROM multi-bb\nCOPY in.txt /in.txt\nRUN uname -m > /arch && wc -c < /in.txt > /n\n");
  write_file(dir("ctx") / "in.txt", "twelve bytes");
  auto r = run_mkimg(store(),
                     {"build", "--progress", "plain", "--platform", "linux/amd64,linux/arm64",
                      "--provenance=mode=max", "-t", "two:1", dir("ctx").string()},
                     {{"SOURCE_DATE_EPOCH", "0"}});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  auto v = run_mkimg(store(),
                     {"verify", "two:1", "--context", dir("ctx").string(), "--progress", "plain"});
  EXPECT_EQ(v.exit_code, 0) << v.all();
  EXPECT_NE(v.err.find("verified linux/amd64"), std::string::npos) << v.err;
  EXPECT_NE(v.err.find("verified linux/arm64"), std::string::npos) << v.err;
  // One platform alone.
  auto one = run_mkimg(
      store(), {"verify", "two:1", "--context", dir("ctx").string(), "--platform", "linux/arm64"});
  EXPECT_EQ(one.exit_code, 0) << one.all();
  EXPECT_EQ(one.err.find("linux/amd64"), std::string::npos) << one.err;
}

}  // namespace
}  // namespace mkimg::testing
