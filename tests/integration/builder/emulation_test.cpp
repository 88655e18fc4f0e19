// RUN for a foreign platform under QEMU user emulation (runtime/emulation.h): a linux/arm64
// build on this host really runs arm64 busybox; `mkimg setup-binfmt` is idempotent; an
// architecture with no emulator registered, or one registered without the F flag, fails the
// RUN with an error naming the fix. The binfmt_misc logic without the kernel is in
// tests/unit/runtime/emulation_test.cpp.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "oci/descriptor.h"
#include "tests/support/emulation_fixture.h"

namespace mkimg::testing {
namespace {

constexpr const char* kBinfmt = "/proc/sys/fs/binfmt_misc";

/// Writes `text` to a binfmt_misc control file (register, an entry).
void write_control(const fs::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.flush();
  ASSERT_TRUE(out.good()) << "cannot write " << text << " to " << path;
}

/// Takes binfmt_misc's qemu-<name> away for the test and puts it back as it was (registered
/// from Debian's conf by setup-binfmt) at the end, so no other test sees a change.
class EntryAway {
 public:
  EntryAway(const fs::path& store, std::string name, std::string platform)
      : store_(store), name_(std::move(name)), platform_(std::move(platform)) {
    was_registered_ = fs::exists(fs::path(kBinfmt) / name_);
    remove();
  }
  ~EntryAway() {
    remove();
    if (was_registered_) run_mkimg(store_, {"setup-binfmt", "--platform", platform_});
  }
  void remove() const {
    if (fs::exists(fs::path(kBinfmt) / name_)) write_control(fs::path(kBinfmt) / name_, "-1");
  }

 private:
  fs::path store_;
  std::string name_, platform_;
  bool was_registered_ = false;
};

using Emulation = EmulationTest;

TEST_F(Emulation, RunsArm64StepsUnderQemu) {
  if (oci::host_platform().architecture == "arm64") GTEST_SKIP() << "arm64 is this host's own";
  write_file(dir("ctx") / "Dockerfile",
             "FROM busybox-arm64\n"
             "RUN uname -m > /arch\n"
             "RUN ls /bin | wc -l > /count && /bin/busybox --help | head -1 > /version\n");
  auto r = build(dir("ctx"), {"--platform", "linux/arm64", "-t", "emu:arm64"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(count(r.err, "DONE"), 2) << r.all();  // both RUNs ran (not cached)
  // The files the steps wrote, from the same build again (its steps cached now).
  auto out = build(dir("ctx"),
                   {"--platform", "linux/arm64", "-o", "type=local,dest=" + dir("out").string()});
  ASSERT_EQ(out.exit_code, 0) << out.all();
  EXPECT_EQ(read_file(dir("out") / "arch"), "aarch64\n");
  // ls of the arm64 busybox sees every entry the layout made in /bin.
  int entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir("busybox-arm64") / "bin")) {
    ++entries;
  }
  EXPECT_EQ(read_file(dir("out") / "count"), std::to_string(entries) + "\n");
  EXPECT_NE(read_file(dir("out") / "version").find("BusyBox"), std::string::npos);

  auto inspected = run_mkimg(store(), {"inspect", "emu:arm64"});
  ASSERT_EQ(inspected.exit_code, 0) << inspected.all();
  auto docs = nlohmann::json::parse(inspected.out);
  const auto& doc = docs.is_array() ? docs.at(0) : docs;
  EXPECT_EQ(doc.at("Config").at("architecture"), "arm64") << inspected.out;
  EXPECT_EQ(doc.at("Config").at("os"), "linux");
}

TEST_F(Emulation, SetupBinfmtIsIdempotent) {
  auto again = run_mkimg(store(), {"setup-binfmt", "--platform", "linux/arm64"});
  ASSERT_EQ(again.exit_code, 0) << again.all();
  EXPECT_NE(again.out.find("linux/arm64: already registered qemu-aarch64"), std::string::npos)
      << again.all();
  auto dry = run_mkimg(store(), {"setup-binfmt", "--dry-run", "--platform", "linux/arm64"});
  ASSERT_EQ(dry.exit_code, 0) << dry.all();
  EXPECT_NE(dry.out.find("already registered"), std::string::npos) << dry.all();
}

TEST_F(Emulation, AnArchitectureWithNoEmulatorNamesTheFix) {
  EntryAway away(store(), "qemu-mips64el", "linux/mips64le");
  import_busybox("busybox-mips64le", "linux/mips64le");  // its programs are the host's: never run
  write_file(dir("ctx") / "Dockerfile", "FROM busybox-mips64le\nRUN true\n");
  auto r = build(dir("ctx"), {"--platform", "linux/mips64le"});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_NE(r.err.find("cannot run programs for linux/mips64le"), std::string::npos) << r.all();
  EXPECT_NE(r.err.find("no emulator is registered"), std::string::npos) << r.all();
  EXPECT_NE(r.err.find("mkimg setup-binfmt"), std::string::npos) << r.all();
}

TEST_F(Emulation, AnEmulatorWithoutTheFixBinaryFlagNamesTheFix) {
  EntryAway away(store(), "qemu-mipsel", "linux/mipsle");
  // Debian's registration line with its flags but F.
  std::string line = read_file("/usr/lib/binfmt.d/qemu-mipsel.conf");
  while (!line.empty() && line.back() == '\n') line.pop_back();
  ASSERT_EQ(line.substr(line.size() - 4), ":OPF") << line;
  write_control(fs::path(kBinfmt) / "register", line.substr(0, line.size() - 1));

  import_busybox("busybox-mipsle", "linux/mipsle");
  write_file(dir("ctx") / "Dockerfile", "FROM busybox-mipsle\nRUN true\n");
  auto r = build(dir("ctx"), {"--platform", "linux/mipsle"});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_NE(r.err.find("without the F (fix binary) flag"), std::string::npos) << r.all();
  EXPECT_NE(r.err.find("echo -1 > /proc/sys/fs/binfmt_misc/qemu-mipsel"), std::string::npos)
      << r.all();

  auto setup = run_mkimg(store(), {"setup-binfmt", "--platform", "linux/mipsle"});
  EXPECT_EQ(setup.exit_code, 1) << setup.all();
  EXPECT_NE(setup.out.find("linux/mipsle: qemu-mipsel is registered without the F"),
            std::string::npos)
      << setup.all();
  EXPECT_NE(setup.err.find("mkimg: error:"), std::string::npos) << setup.all();
}

}  // namespace
}  // namespace mkimg::testing
