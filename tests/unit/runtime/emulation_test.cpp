// runtime/emulation.h without the kernel: binfmt_misc entries and binfmt.d lines parsed, and
// cannot_run() and setup_binfmt() against a directory that stands in for binfmt_misc (a
// `register` file, entries as the kernel shows them). The real registration and a RUN under
// QEMU are proven by tests/integration/builder/emulation_test.cpp.
#include "runtime/emulation.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "common/in_root.h"
#include "common/temp_dir.h"
#include "oci/descriptor.h"

namespace mkimg::runtime {
namespace {

namespace fs = std::filesystem;

constexpr const char* kAarch64Line =
    ":qemu-aarch64:M::\\x7f\\x45\\x4c\\x46\\x02\\x01\\x01\\x00:\\xff\\xff\\xff\\xff\\xff\\xff"
    "\\xff\\x00:/usr/libexec/qemu-binfmt/aarch64-binfmt-P:OPF";

TEST(BinfmtEntry, ParsesEnabledInterpreterAndFlags) {
  BinfmtEntry e = parse_binfmt_entry(
      "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: POF\noffset 0\n"
      "magic 7f454c46\nmask ffffffff\n");
  EXPECT_TRUE(e.enabled);
  EXPECT_EQ(e.interpreter, "/usr/libexec/qemu-binfmt/aarch64-binfmt-P");
  EXPECT_EQ(e.flags, "POF");
  EXPECT_TRUE(e.fix_binary());

  BinfmtEntry off = parse_binfmt_entry("disabled\ninterpreter /usr/bin/qemu-arm\nflags: \n");
  EXPECT_FALSE(off.enabled);
  EXPECT_EQ(off.flags, "");
  EXPECT_FALSE(off.fix_binary());
  EXPECT_FALSE(parse_binfmt_entry("").enabled);
}

TEST(BinfmtConf, ParsesRegistrationLinesAndSkipsTheRest) {
  std::string text = std::string("# comment\n\n; another\n") + kAarch64Line +
                     "\n:short:M::x\n,qemu-arm,M,,\\x7f,\\xff,/usr/bin/qemu-arm-static,OC\n";
  auto lines = parse_binfmt_conf(text);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].line, kAarch64Line);
  EXPECT_EQ(lines[0].name, "qemu-aarch64");
  EXPECT_EQ(lines[0].interpreter, "/usr/libexec/qemu-binfmt/aarch64-binfmt-P");
  EXPECT_EQ(lines[0].flags, "OPF");
  EXPECT_EQ(lines[1].name, "qemu-arm");  // any separator, as the kernel takes it
  EXPECT_EQ(lines[1].interpreter, "/usr/bin/qemu-arm-static");
  EXPECT_EQ(lines[1].flags, "OC");
}

TEST(QemuName, MapsOciArchitectures) {
  EXPECT_EQ(qemu_name("arm64"), "aarch64");
  EXPECT_EQ(qemu_name("arm"), "arm");
  EXPECT_EQ(qemu_name("amd64"), "x86_64");
  EXPECT_EQ(qemu_name("386"), "i386");
  EXPECT_EQ(qemu_name("mips64le"), "mips64el");
  EXPECT_EQ(qemu_name("loong64"), "loongarch64");
  EXPECT_EQ(qemu_name("wasm"), std::nullopt);
  EXPECT_TRUE(runs_natively("386", "amd64"));
  EXPECT_TRUE(runs_natively("arm", "arm64"));
  EXPECT_TRUE(runs_natively("amd64", "amd64"));
  EXPECT_FALSE(runs_natively("arm64", "amd64"));
}

/// A stand-in for binfmt_misc and /usr/lib/binfmt.d, for an architecture foreign to the host.
class FakeBinfmt : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string host = oci::host_platform().architecture;
    arch_ = host == "s390x" ? "ppc64le" : "s390x";
    entry_ = "qemu-" + *qemu_name(arch_);
    fs::create_directories(paths_.binfmt);
    fs::create_directories(paths_.confs);
    write(paths_.binfmt / "register", "");
    write(paths_.binfmt / "status", "enabled\n");
  }
  static void write(const fs::path& p, const std::string& text) {
    std::ofstream(p, std::ios::trunc) << text;
  }
  /// A conf for the architecture whose interpreter is a file that exists.
  void add_conf(const std::string& flags = "OPF") {
    write(paths_.confs / (entry_ + ".conf"),
          ":" + entry_ + ":M::\\x7f\\x45:\\xff\\xff:/bin/sh:" + flags + "\n");
  }
  void add_entry(bool enabled, const std::string& flags) {
    write(paths_.binfmt / entry_, std::string(enabled ? "enabled" : "disabled") +
                                      "\ninterpreter /bin/sh\nflags: " + flags + "\n");
  }
  SetupBinfmtResult setup(bool dry_run = false) {
    return setup_binfmt({.platforms = {"linux/" + arch_}, .dry_run = dry_run, .paths = paths_});
  }

  TempDir tmp_{fs::temp_directory_path(), "mkimg-binfmt-"};
  BinfmtPaths paths_{.binfmt = tmp_.path() / "binfmt_misc", .confs = tmp_.path() / "binfmt.d"};
  std::string arch_, entry_;
};

TEST_F(FakeBinfmt, CannotRunSaysWhyAndNamesTheFix) {
  EXPECT_EQ(cannot_run("linux", oci::host_platform().architecture, paths_), std::nullopt);
  EXPECT_NE(cannot_run("windows", "amd64", paths_), std::nullopt);

  auto why = cannot_run("linux", arch_, paths_);  // no entry, no conf
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("no emulator is registered"), std::string::npos) << *why;
  EXPECT_NE(why->find("apt-get install qemu-user-static"), std::string::npos) << *why;
  EXPECT_NE(why->find("mkimg setup-binfmt"), std::string::npos) << *why;

  add_conf();  // installed, not registered: only setup-binfmt is needed
  why = cannot_run("linux", arch_, paths_);
  ASSERT_TRUE(why);
  EXPECT_EQ(why->find("apt-get"), std::string::npos) << *why;
  EXPECT_NE(why->find("mkimg setup-binfmt"), std::string::npos) << *why;

  add_entry(true, "PO");
  why = cannot_run("linux", arch_, paths_);
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("without the F (fix binary) flag"), std::string::npos) << *why;
  EXPECT_NE(why->find("echo -1 > " + (paths_.binfmt / entry_).string()), std::string::npos);
  EXPECT_NE(why->find("mkimg setup-binfmt"), std::string::npos) << *why;

  add_entry(false, "POF");
  why = cannot_run("linux", arch_, paths_);
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("disabled"), std::string::npos) << *why;
  EXPECT_NE(why->find("mkimg setup-binfmt"), std::string::npos) << *why;

  add_entry(true, "POF");
  EXPECT_EQ(cannot_run("linux", arch_, paths_), std::nullopt);

  auto unknown = cannot_run("linux", "wasm", paths_);
  ASSERT_TRUE(unknown);
  EXPECT_NE(unknown->find("knows no QEMU emulator"), std::string::npos) << *unknown;
}

TEST_F(FakeBinfmt, CannotRunSaysWhenBinfmtMiscIsNotMounted) {
  fs::remove(paths_.binfmt / "register");
  add_conf();
  auto why = cannot_run("linux", arch_, paths_);
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("binfmt_misc is not mounted at " + paths_.binfmt.string()), std::string::npos)
      << *why;
  EXPECT_NE(why->find("mkimg setup-binfmt"), std::string::npos) << *why;
}

TEST_F(FakeBinfmt, SetupRegistersTheConfLine) {
  add_conf();
  auto dry = setup(true);
  ASSERT_EQ(dry.platforms.size(), 1u);
  EXPECT_EQ(dry.platforms[0].outcome, BinfmtReport::Outcome::kRegistered);
  EXPECT_NE(dry.platforms[0].text.find("would register"), std::string::npos);
  EXPECT_EQ(read_host_file(paths_.binfmt / "register"), "");

  auto r = setup();
  ASSERT_EQ(r.platforms.size(), 1u);
  EXPECT_EQ(r.mount, "");
  EXPECT_EQ(r.platforms[0].outcome, BinfmtReport::Outcome::kRegistered);
  EXPECT_EQ(r.platforms[0].text, "linux/" + arch_ + ": registered " + entry_ + " (/bin/sh)");
  EXPECT_EQ(read_host_file(paths_.binfmt / "register"),
            ":" + entry_ + ":M::\\x7f\\x45:\\xff\\xff:/bin/sh:OPF");
}

TEST_F(FakeBinfmt, SetupAddsTheFixBinaryFlagWhenTheConfLacksIt) {
  add_conf("OC");
  EXPECT_EQ(setup().platforms[0].outcome, BinfmtReport::Outcome::kRegistered);
  EXPECT_EQ(read_host_file(paths_.binfmt / "register"),
            ":" + entry_ + ":M::\\x7f\\x45:\\xff\\xff:/bin/sh:OCF");
}

TEST_F(FakeBinfmt, SetupLeavesRegisteredEntriesAloneAndReportsOnesWithoutF) {
  add_conf();
  add_entry(true, "POF");
  auto r = setup();
  EXPECT_EQ(r.platforms[0].outcome, BinfmtReport::Outcome::kAlreadyRegistered);
  EXPECT_NE(r.platforms[0].text.find("already registered"), std::string::npos);
  EXPECT_EQ(read_host_file(paths_.binfmt / "register"), "");

  add_entry(true, "PO");
  r = setup();
  EXPECT_EQ(r.platforms[0].outcome, BinfmtReport::Outcome::kWithoutFixBinary);
  EXPECT_FALSE(r.platforms[0].ok());
  EXPECT_NE(r.platforms[0].text.find("echo -1 > " + (paths_.binfmt / entry_).string()),
            std::string::npos)
      << r.platforms[0].text;
  EXPECT_EQ(read_host_file(paths_.binfmt / "register"), "");

  add_entry(false, "POF");  // disabled: enabled again
  r = setup();
  EXPECT_EQ(r.platforms[0].outcome, BinfmtReport::Outcome::kEnabled);
  EXPECT_EQ(read_host_file(paths_.binfmt / entry_).substr(0, 1), "1");
}

TEST_F(FakeBinfmt, SetupNamesThePackageWhenQemuIsMissing) {
  try {
    setup();
    FAIL() << "no conf at all must throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("apt-get install qemu-user-static"), std::string::npos)
        << e.what();
  }
  write(paths_.confs / "qemu-other.conf", ":qemu-other:M::\\x7f:\\xff:/nonexistent:F\n");
  auto r = setup();
  EXPECT_EQ(r.platforms[0].outcome, BinfmtReport::Outcome::kMissing);
  EXPECT_NE(r.platforms[0].text.find("apt-get install qemu-user-static"), std::string::npos);

  write(paths_.confs / (entry_ + ".conf"),
        ":" + entry_ + ":M::\\x7f:\\xff:/nonexistent/qemu-static:OPF\n");
  r = setup();
  EXPECT_EQ(r.platforms[0].outcome, BinfmtReport::Outcome::kMissing);
  EXPECT_NE(r.platforms[0].text.find("/nonexistent/qemu-static is missing"), std::string::npos);
}

TEST_F(FakeBinfmt, SetupDefaultsToEveryForeignArchitectureWithAConfAndNeverTheHost) {
  add_conf();
  std::string host = oci::host_platform().architecture;
  write(paths_.confs / ("qemu-" + *qemu_name(host) + ".conf"),
        ":qemu-" + *qemu_name(host) + ":M::\\x7f:\\xff:/bin/sh:F\n");
  auto r = setup_binfmt({.paths = paths_});
  ASSERT_EQ(r.platforms.size(), 1u);
  EXPECT_EQ(r.platforms[0].platform, "linux/" + arch_);

  auto native = setup_binfmt({.platforms = {"linux/" + host}, .paths = paths_});
  EXPECT_EQ(native.platforms[0].outcome, BinfmtReport::Outcome::kNative);
}

TEST_F(FakeBinfmt, DryRunWhenNotMountedSaysItWouldMount) {
  fs::remove(paths_.binfmt / "register");
  add_conf();
  auto r = setup(true);
  EXPECT_EQ(r.mount, "binfmt_misc: would mount at " + paths_.binfmt.string());
  EXPECT_EQ(r.platforms[0].outcome, BinfmtReport::Outcome::kRegistered);
}

}  // namespace
}  // namespace mkimg::runtime
