// Whiteouts and opaque directories, the OCI way: golden layers and the tree they must give, in
// overlay_lower mode (overlay whiteouts in the layer's own directory) and flatten mode.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "common/error.h"
#include "snapshot/apply.h"
#include "tests/support/harness.h"
#include "tests/support/tar_builder.h"

namespace mkimg::snapshot {
namespace {

using mkimg::testing::TempDir;
using namespace testing;  // NOLINT: the tar builder's vocabulary

void apply_entries(const fs::path& blob_dir, const fs::path& root,
                   const std::vector<TarEntry>& entries, ApplyMode mode) {
  write_bytes(blob_dir / "layer.tar", make_tar(entries));
  apply_layer(blob_dir / "layer.tar", root, mode);
}

std::vector<std::string> names(const fs::path& dir) {
  std::vector<std::string> out;
  for (auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename());
  std::sort(out.begin(), out.end());
  return out;
}

bool is_overlay_whiteout(const fs::path& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0);
}

TEST(ApplyWhiteouts, OverlayLowerTurnsWhiteoutsIntoCharDevicesAndOpaqueIntoXattr) {
  TempDir tmp, blobs;
  apply_entries(
      blobs.path(), tmp.path(),
      {dir("etc"), file("etc/.wh.passwd"), dir("var"), file("var/.wh..wh..opq"), file("var/kept")},
      ApplyMode::kOverlayLower);
  EXPECT_TRUE(is_overlay_whiteout(tmp / "etc/passwd"));
  EXPECT_FALSE(fs::exists(tmp / "etc/.wh.passwd"));
  char value[8] = {};
  EXPECT_EQ(::getxattr((tmp / "var").c_str(), "trusted.overlay.opaque", value, sizeof value), 1);
  EXPECT_EQ(value[0], 'y');
  EXPECT_EQ(names(tmp / "var"), std::vector<std::string>{"kept"});
}

TEST(ApplyWhiteouts, FlattenDeletesAWhitedOutDirectoryWithEverythingInIt) {
  TempDir tmp, blobs;
  apply_entries(blobs.path(), tmp.path(), {dir("a"), dir("a/b"), file("a/b/c"), file("keep")},
                ApplyMode::kFlatten);
  apply_entries(blobs.path(), tmp.path(), {file(".wh.a")}, ApplyMode::kFlatten);
  EXPECT_EQ(names(tmp.path()), std::vector<std::string>{"keep"});
}

TEST(ApplyWhiteouts, OpaqueMarkerAppliesBeforeTheLayersOtherEntriesWhateverTheirOrder) {
  TempDir tmp, blobs;
  apply_entries(blobs.path(), tmp.path(), {dir("d"), file("d/lower1"), file("d/lower2")},
                ApplyMode::kFlatten);
  // "-new" sorts before ".wh..wh..opq": it must survive the opaque marker of its own layer.
  apply_entries(blobs.path(), tmp.path(),
                {dir("d"), file("d/-new"), file("d/.wh..wh..opq"), file("d/zz-new")},
                ApplyMode::kFlatten);
  EXPECT_EQ(names(tmp / "d"), (std::vector<std::string>{"-new", "zz-new"}));
}

TEST(ApplyWhiteouts, WhiteoutHidesOnlyLowerLayers) {
  TempDir tmp, blobs;
  apply_entries(blobs.path(), tmp.path(), {file("same-layer", "mine"), file(".wh.same-layer")},
                ApplyMode::kFlatten);
  EXPECT_TRUE(fs::exists(tmp / "same-layer"));
  TempDir lower;
  apply_entries(blobs.path(), lower.path(), {file("same-layer", "mine"), file(".wh.same-layer")},
                ApplyMode::kOverlayLower);
  EXPECT_FALSE(is_overlay_whiteout(lower / "same-layer"));
}

TEST(ApplyWhiteouts, WhiteoutOfSomethingMissingIsFineInFlattenMode) {
  TempDir tmp, blobs;
  EXPECT_NO_THROW(apply_entries(blobs.path(), tmp.path(), {file("nope/.wh.x"), file(".wh.y")},
                                ApplyMode::kFlatten));
  EXPECT_TRUE(names(tmp.path()).empty());
}

TEST(ApplyWhiteouts, ReservedWhiteoutNamesAreRefused) {
  TempDir tmp, blobs;
  for (const char* bad : {".wh..wh.plnk", "d/.wh..wh.aufs", ".wh."}) {
    EXPECT_THROW(apply_entries(blobs.path(), tmp.path(), {file(bad)}, ApplyMode::kFlatten), Error)
        << bad;
  }
}

}  // namespace
}  // namespace mkimg::snapshot
