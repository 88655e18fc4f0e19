// cmake/MkimgStartupDeps.cmake: the mkimg binary carries libarchive (and libxml2 and ICU, which
// it brings), libcrypto, yaml-cpp and libstdc++ itself, and spdlog and fmt as headers, so that
// a command's start does not wait for the dynamic loader to open and relocate them. Seen from
// outside: the ELF file's NEEDED entries, and a binary that still runs.
#include <gtest/gtest.h>

#include "tests/support/harness.h"

namespace mkimg::testing {
namespace {

/// The libraries `binary` names as NEEDED in its dynamic section (from readelf -d).
std::vector<std::string> needed_libraries(const std::string& binary) {
  CommandResult r = run({"readelf", "-d", binary});
  EXPECT_EQ(r.exit_code, 0) << r.all();
  std::vector<std::string> libs;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("(NEEDED)") == std::string::npos) continue;
    auto open = line.find('['), close = line.find(']');
    if (open != std::string::npos && close != std::string::npos && close > open)
      libs.push_back(line.substr(open + 1, close - open - 1));
  }
  return libs;
}

TEST(StartupLibraries, TheBinaryNeedsNoSharedLibraryItLinksStatically) {
#ifndef MKIMG_STATIC_DEPS_LINKED
  GTEST_SKIP() << "this build links the shared libraries (MKIMG_STATIC_DEPS off, a static "
                  "archive missing, or a sanitizer build)";
#endif
  std::vector<std::string> libs = needed_libraries(mkimg_binary());
  ASSERT_FALSE(libs.empty());
  std::string all;
  for (const auto& lib : libs) all += lib + " ";
  EXPECT_NE(all.find("libc.so.6"), std::string::npos) << all;
  for (const char* linked_in : {"libarchive", "libcrypto", "libssl", "libxml2", "libicu",
                                "libyaml-cpp", "libstdc++", "libspdlog", "libfmt"}) {
    EXPECT_EQ(all.find(linked_in), std::string::npos) << linked_in << " in: " << all;
  }
  CommandResult version = run({mkimg_binary(), "--version"});
  EXPECT_EQ(version.exit_code, 0) << version.all();
  EXPECT_NE(version.out.find("mkimg"), std::string::npos) << version.all();
}

}  // namespace
}  // namespace mkimg::testing
