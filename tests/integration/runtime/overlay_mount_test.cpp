// The overlay mount helper with many lower layers, through the new mount API (lowerdir+) and
// through the legacy mount(2) fallback (short symlink names), on the real kernel.
#include "runtime/overlay_mount.h"

#include <gtest/gtest.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>

#include <sstream>
#include <string>
#include <vector>

#include "common/error.h"
#include "tests/support/harness.h"

namespace mkimg::testing {
namespace {

using runtime::OverlayApi;
using runtime::OverlayMount;

class OverlayMountTest : public ::testing::TestWithParam<OverlayApi> {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "overlay mounts need root";
    for (const char* d : {"upper", "work", "merged", "empty"}) fs::create_directories(tmp_ / d);
  }

  /// n lower directories with long absolute paths (like <root>/layers/<chain hex>), topmost
  /// first: lower i holds f<i> and a file `top` saying i.
  std::vector<fs::path> make_lowers(int n) {
    std::vector<fs::path> lowers;
    for (int i = 0; i < n; ++i) {
      fs::path d = tmp_ / "layers" / (std::string(60, 'a' + i % 26) + std::to_string(i));
      write_file(d / ("f" + std::to_string(i)), std::to_string(i));
      write_file(d / "top", std::to_string(i));
      lowers.push_back(d);
    }
    return lowers;
  }

  TempDir tmp_;
};

TEST_P(OverlayMountTest, TwoHundredLowersAllVisibleTopmostWins) {
  auto lowers = make_lowers(200);
  OverlayMount mount(lowers, tmp_ / "empty", tmp_ / "upper", tmp_ / "work", tmp_ / "merged",
                     GetParam());
  EXPECT_EQ(mount.api(), GetParam());
  for (int i = 0; i < 200; ++i) {
    EXPECT_EQ(read_file(tmp_ / "merged" / ("f" + std::to_string(i))), std::to_string(i)) << i;
  }
  EXPECT_EQ(read_file(tmp_ / "merged/top"), "0");
  write_file(tmp_ / "merged/new", "x");
  mount.unmount();
  EXPECT_EQ(read_file(tmp_ / "upper/new"), "x");
  EXPECT_FALSE(fs::exists(tmp_ / "merged/f0"));
  EXPECT_FALSE(fs::exists(tmp_ / "work.links"));  // the legacy short links are gone
}

TEST_P(OverlayMountTest, NoLowersUsesTheEmptyDirectory) {
  OverlayMount mount({}, tmp_ / "empty", tmp_ / "upper", tmp_ / "work", tmp_ / "merged",
                     GetParam());
  EXPECT_TRUE(fs::is_empty(tmp_ / "merged"));
}

TEST_P(OverlayMountTest, PathsWithOverlaySeparatorsMount) {
  fs::path odd = tmp_ / "layers/a:b,c\\d";
  write_file(odd / "inside", "y");
  fs::create_directories(tmp_ / "up:p,e\\r");
  fs::create_directories(tmp_ / "wo:r,k");
  OverlayMount mount({odd}, tmp_ / "empty", tmp_ / "up:p,e\\r", tmp_ / "wo:r,k", tmp_ / "merged",
                     GetParam());
  EXPECT_EQ(read_file(tmp_ / "merged/inside"), "y");
  write_file(tmp_ / "merged/new", "z");
  mount.unmount();
  EXPECT_EQ(read_file(tmp_ / "up:p,e\\r/new"), "z");
}

/// The super options /proc/self/mountinfo lists for the mount at `target` ("" when none).
std::string super_options(const fs::path& target) {
  std::istringstream in(read_file("/proc/self/mountinfo"));
  std::string line, found;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, mount_point, rest;
    fields >> id >> parent >> dev >> root >> mount_point;
    if (mount_point != target.string()) continue;
    auto dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream after(line.substr(dash + 3));
    std::string type, source, options;
    after >> type >> source >> options;
    found = options;  // the last one is the topmost
  }
  return found;
}

// Overlay does not sync the upper file system (at unmount it would flush the whole file
// system of the store); PendingLayers::record syncs once before it records the build's layers.
TEST_P(OverlayMountTest, TheUpperIsVolatile) {
  fs::create_directories(tmp_ / "l");
  OverlayMount mount({tmp_ / "l"}, tmp_ / "empty", tmp_ / "upper", tmp_ / "work", tmp_ / "merged",
                     GetParam());
  std::string options = super_options(fs::canonical(tmp_ / "merged"));
  EXPECT_NE(options.find("volatile"), std::string::npos) << options;
  write_file(tmp_ / "merged/new", "v");
  mount.unmount();
  EXPECT_EQ(read_file(tmp_ / "upper/new"), "v");
  EXPECT_EQ(super_options(fs::canonical(tmp_ / "merged")), "");
}

TEST_P(OverlayMountTest, MoreThanTheKernelLimitIsAClearError) {
  std::vector<fs::path> lowers(runtime::kMaxOverlayLowers + 1, tmp_ / "empty");
  try {
    OverlayMount mount(lowers, tmp_ / "empty", tmp_ / "upper", tmp_ / "work", tmp_ / "merged",
                       GetParam());
    FAIL() << "mounted 501 lowers";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("at most 500"), std::string::npos) << e.what();
  }
}

TEST_P(OverlayMountTest, AMissingLowerNamesIt) {
  try {
    OverlayMount mount({tmp_ / "missing"}, tmp_ / "empty", tmp_ / "upper", tmp_ / "work",
                       tmp_ / "merged", GetParam());
    FAIL() << "mounted a missing lower";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("merged"), std::string::npos) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Apis, OverlayMountTest,
                         ::testing::Values(OverlayApi::kNewApi, OverlayApi::kLegacy),
                         [](const auto& param_info) {
                           return param_info.param == OverlayApi::kNewApi ? std::string("NewApi")
                                                                          : std::string("Legacy");
                         });

TEST(OverlayMountAuto, PicksTheNewApiOnThisKernel) {
  if (::geteuid() != 0) GTEST_SKIP() << "overlay mounts need root";
  struct utsname u {};
  int major = 0, minor = 0;
  if (::uname(&u) != 0 || std::sscanf(u.release, "%d.%d", &major, &minor) != 2 || major < 6 ||
      (major == 6 && minor < 8)) {
    GTEST_SKIP() << "lowerdir+ needs kernel 6.8";
  }
  TempDir tmp;
  for (const char* d : {"upper", "work", "merged", "empty", "l"}) fs::create_directories(tmp / d);
  OverlayMount mount({tmp / "l"}, tmp / "empty", tmp / "upper", tmp / "work", tmp / "merged");
  EXPECT_EQ(mount.api(), OverlayApi::kNewApi);  // the kernel here is >= 6.8
}

}  // namespace
}  // namespace mkimg::testing
