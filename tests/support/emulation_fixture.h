// Shared setup of the tests that RUN a foreign platform's programs under QEMU: QEMU's emulators
// registered through the built binary's `mkimg setup-binfmt` (idempotent), and "busybox-arm64",
// Debian's arm64 busybox-static (cached by scripts/cache-foreign-busybox.sh) laid out by
// scripts/make-busybox-root.sh and imported as linux/arm64. As root they must run: a missing
// emulator or busybox fails them with the fix; without root they are skipped.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "tests/support/builder_fixture.h"
#include "tests/support/harness.h"

namespace mkimg::testing {

/// The arm64 busybox-static scripts/cache-foreign-busybox.sh keeps.
inline fs::path arm64_busybox() {
  const char* cache = std::getenv("MKIMG_TEST_CACHE");
  return fs::path(cache && *cache ? cache : "/var/cache/mkimg-tests") /
         "busybox-static-arm64/bin/busybox";
}

class EmulationTest : public BuilderTest {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) {
      GTEST_SKIP() << "emulation tests need root (mkimg setup-binfmt registers QEMU with "
                      "binfmt_misc; builds need overlay and runc)";
    }
    BuilderTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    auto setup = run_mkimg(store(), {"setup-binfmt", "--platform", "linux/arm64"});
    ASSERT_EQ(setup.exit_code, 0) << "QEMU's arm64 emulator cannot be registered:\n" << setup.all();
    ASSERT_TRUE(fs::exists(arm64_busybox()))
        << arm64_busybox() << " missing: run scripts/install-deps.sh as root";
    import_busybox("busybox-arm64", "linux/arm64", arm64_busybox());
  }

  /// Lays out a busybox root from `busybox` (the host's when empty) and imports it as `name`
  /// for `platform`.
  void import_busybox(const std::string& name, const std::string& platform,
                      const fs::path& busybox = {}) {
    std::vector<std::string> make{(source_dir() / "scripts/make-busybox-root.sh").string(),
                                  dir(name).string()};
    if (!busybox.empty()) make.push_back(busybox.string());
    auto made = run(make);
    ASSERT_EQ(made.exit_code, 0) << made.all();
    auto imported =
        run_mkimg(store(), {"import", "--platform", platform, dir(name).string(), name});
    ASSERT_EQ(imported.exit_code, 0) << imported.all();
  }
};

}  // namespace mkimg::testing
