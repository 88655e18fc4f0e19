// The two diff paths on one sequence of changes: a real overlay mount (lower = the parent
// unpacked by unpack_layer, a fresh upper, changes made through the mount, then the upper
// diffed) and the walk (the parent flattened, its state recorded, the same changes made in
// place, then walked) give the same layer digest; applying that layer on the parent gives the
// changed tree, by our flatten apply and by `umoci raw unpack`.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstring>

#include "common/error.h"
#include "snapshot/snapshot.h"
#include "tests/support/harness.h"
#include "tests/support/tar_builder.h"
#include "tests/support/tree_listing.h"

namespace mkimg::snapshot {
namespace {

using mkimg::testing::run;
using mkimg::testing::TempDir;
using testing::list_tree;
using testing::Times;
using testing::write_bytes;

constexpr int64_t kParentTime = 1'000'000'000;
constexpr int64_t kEpoch = 1'500'000'000;

void set_all_times(const fs::path& root, int64_t t) {
  timespec ts[2] = {{t, 0}, {t, 0}};
  for (auto& e : fs::recursive_directory_iterator(root)) {
    ::utimensat(AT_FDCWD, e.path().c_str(), ts, AT_SYMLINK_NOFOLLOW);
  }
}

void make_parent(const fs::path& p) {
  for (const char* d :
       {"etc", "var/cache/b", "usr", "bin", "opt/d", "srv/data", "lib", "home", "tmpdir"}) {
    fs::create_directories(p / d);
  }
  for (const char* f :
       {"etc/config", "etc/config2", "etc/old", "etc/owned", "var/cache/a", "var/cache/b/c",
        "usr/a", "opt/d/x", "opt/f", "srv/data/old1", "srv/data/old2", "home/.profile"}) {
    write_bytes(p / f, std::string("content of ") + f + "\n");
  }
  write_bytes(p / "bin/tool", "#!/bin/sh\necho tool\n");
  ::chmod((p / "bin/tool").c_str(), 0755);
  fs::create_symlink("tool", p / "bin/old-link");
  set_all_times(p, kParentTime);
}

/// The sequence of changes a step makes, applied under `r` (a mount or a plain tree).
void change(const fs::path& r) {
  fs::create_directories(r / "new/sub/deep");
  write_bytes(r / "new/sub/deep/file", "new file\n");
  write_bytes(r / "etc/config", "changed content\n");
  fs::remove(r / "etc/old");
  fs::remove_all(r / "var/cache");
  fs::rename(r / "usr/a", r / "usr/b");
  ::chmod((r / "bin/tool").c_str(), 0700);
  ASSERT_EQ(::lchown((r / "etc/owned").c_str(), 1234, 5678), 0);
  fs::remove_all(r / "opt/d");
  write_bytes(r / "opt/d", "d is a file now\n");
  fs::remove(r / "opt/f");
  fs::create_directories(r / "opt/f");
  write_bytes(r / "opt/f/inside", "f is a directory now\n");
  fs::remove_all(r / "srv/data");
  fs::create_directories(r / "srv/data");
  write_bytes(r / "srv/data/fresh", "re-created\n");
  write_bytes(r / "lib/x", "linked\n");
  fs::create_hard_link(r / "lib/x", r / "lib/y");
  fs::create_symlink("tool", r / "bin/link");
  fs::remove(r / "bin/old-link");
  fs::create_symlink("/usr/b", r / "bin/old-link");
  ASSERT_EQ(::setxattr((r / "etc/config2").c_str(), "user.k", "v", 1, 0), 0);
  ASSERT_EQ(::setxattr((r / "home").c_str(), "user.dir", "yes", 3, 0), 0);
  ::chmod((r / "tmpdir").c_str(), 01777);
}

/// An overlay mount that is unmounted at scope exit.
class OverlayMount {
 public:
  OverlayMount(const fs::path& lower, const fs::path& upper, const fs::path& work,
               const fs::path& target)
      : target_(target) {
    std::string options = "lowerdir=" + lower.string() + ",upperdir=" + upper.string() +
                          ",workdir=" + work.string() + ",redirect_dir=off,metacopy=off,index=off";
    ok_ = ::mount("overlay", target.c_str(), "overlay", 0, options.c_str()) == 0;
    error_ = ok_ ? "" : std::strerror(errno);
  }
  ~OverlayMount() { unmount(); }
  void unmount() {
    if (ok_) ::umount2(target_.c_str(), 0);
    ok_ = false;
  }
  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }

 private:
  fs::path target_;
  bool ok_ = false;
  std::string error_;
};

std::string entries_text(const std::vector<LayerEntry>& entries) {
  std::string s;
  for (const auto& e : entries)
    s += e.path + (e.kind == EntryKind::kWhiteout ? " (whiteout)\n" : "\n");
  return s;
}

/// A minimal OCI layout holding one image of `layers`, for umoci.
void write_oci_layout(const fs::path& dir, const std::vector<LayerBlob>& layers) {
  fs::create_directories(dir / "blobs/sha256");
  auto put = [&](const std::string& digest, const std::string& bytes) {
    write_bytes(dir / "blobs/sha256" / digest.substr(7), bytes);
  };
  std::string diff_ids, descriptors;
  for (const LayerBlob& l : layers) {
    fs::copy_file(l.file, dir / "blobs/sha256" / l.digest.substr(7));
    diff_ids += std::string(diff_ids.empty() ? "" : ",") + "\"" + l.diff_id + "\"";
    descriptors += std::string(descriptors.empty() ? "" : ",") + "{\"mediaType\":\"" +
                   l.media_type + "\",\"digest\":\"" + l.digest +
                   "\",\"size\":" + std::to_string(l.size) + "}";
  }
  std::string config =
      "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{},"
      "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[" +
      diff_ids + "]}}";
  auto digest_of = [&](const std::string& bytes) {
    write_bytes(dir / "tmp-blob", bytes);
    auto r = run({"sh", "-c", "sha256sum " + (dir / "tmp-blob").string() + " | cut -c1-64"});
    fs::remove(dir / "tmp-blob");
    return "sha256:" + r.out.substr(0, 64);
  };
  std::string config_digest = digest_of(config);
  put(config_digest, config);
  std::string manifest =
      "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
      "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" +
      config_digest + "\",\"size\":" + std::to_string(config.size()) + "},\"layers\":[" +
      descriptors + "]}";
  std::string manifest_digest = digest_of(manifest);
  put(manifest_digest, manifest);
  write_bytes(dir / "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}");
  write_bytes(dir / "index.json",
              "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/vnd.oci.image."
              "manifest.v1+json\",\"digest\":\"" +
                  manifest_digest + "\",\"size\":" + std::to_string(manifest.size()) +
                  ",\"annotations\":{\"org.opencontainers.image.ref.name\":\"test\"}}]}");
}

TEST(DiffPaths, OverlayAndWalkGiveTheSameLayerAndItReproducesTheTree) {
  TempDir tmp;
  make_parent(tmp / "parent");
  LayerOptions options{Compression::kGzip, kEpoch, 0, 0};
  LayerBlob base = write_layer_from_dir(tmp / "parent", tmp / "base.tar.gz", options);
  fs::create_directories(tmp / "layers");
  unpack_layer(base.file, tmp / "layers/base", base.diff_id);

  // Overlay path.
  for (const char* d : {"upper", "work", "merged"}) fs::create_directories(tmp / d);
  {
    OverlayMount mount(tmp / "layers/base", tmp / "upper", tmp / "work", tmp / "merged");
    ASSERT_TRUE(mount.ok()) << "mount overlay: " << mount.error();
    change(tmp / "merged");
  }
  std::vector<LayerEntry> from_upper = overlay_changes(tmp / "upper", {tmp / "layers/base"});
  LayerBlob overlay =
      diff_overlay_upper(tmp / "upper", {tmp / "layers/base"}, tmp / "overlay.tar.gz", options);

  // Walk path.
  fs::create_directories(tmp / "work-tree");
  apply_layer(base.file, tmp / "work-tree", ApplyMode::kFlatten);
  TreeState before = record_tree(tmp / "work-tree");
  change(tmp / "work-tree");
  std::vector<LayerEntry> from_walk = walk_changes(before, tmp / "work-tree");
  LayerBlob walk = diff_walk(before, tmp / "work-tree", tmp / "walk.tar.gz", options);

  EXPECT_EQ(entries_text(from_upper), entries_text(from_walk));
  EXPECT_EQ(overlay.digest, walk.digest);
  EXPECT_EQ(overlay.diff_id, walk.diff_id);
  std::string text = entries_text(from_walk);
  EXPECT_NE(text.find("var/.wh.cache (whiteout)\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("var/cache/"), std::string::npos) << "one whiteout for a deleted dir";
  EXPECT_NE(text.find("srv/data/.wh..wh..opq (whiteout)"), std::string::npos) << text;
  EXPECT_NE(text.find("opt/f/.wh..wh..opq (whiteout)"), std::string::npos) << text;
  EXPECT_NE(text.find("usr/.wh.a (whiteout)"), std::string::npos) << text;
  EXPECT_EQ(text.find("etc/config2\n") == std::string::npos, false) << text;

  // Applying the layer on the parent reproduces the changed tree.
  fs::create_directories(tmp / "applied");
  apply_layer(base.file, tmp / "applied", ApplyMode::kFlatten);
  ApplyResult r = apply_layer(walk.file, tmp / "applied", ApplyMode::kFlatten);
  EXPECT_EQ(r.diff_id, walk.diff_id);
  std::string expected = list_tree(tmp / "work-tree", Times::kIgnore);
  EXPECT_EQ(list_tree(tmp / "applied", Times::kIgnore), expected);

  // And so does umoci, reading an OCI layout with both layers.
  if (!mkimg::testing::have_tool("umoci")) GTEST_SKIP() << "umoci not installed";
  write_oci_layout(tmp / "layout", {base, walk});
  auto u = run({"umoci", "raw", "unpack", "--image", (tmp / "layout").string() + ":test",
                (tmp / "umoci-root").string()});
  ASSERT_EQ(u.exit_code, 0) << u.all();
  EXPECT_EQ(list_tree(tmp / "umoci-root", Times::kIgnore), expected);
}

TEST(DiffPaths, NoChangeGivesAnEmptyLayerOnBothPaths) {
  TempDir tmp;
  make_parent(tmp / "parent");
  LayerBlob base = write_layer_from_dir(tmp / "parent", tmp / "base.tar", {Compression::kNone});
  fs::create_directories(tmp / "layers");
  unpack_layer(base.file, tmp / "layers/base", base.diff_id);
  fs::create_directories(tmp / "upper");
  EXPECT_TRUE(overlay_changes(tmp / "upper", {tmp / "layers/base"}).empty());
  TreeState before = record_tree(tmp / "parent");
  EXPECT_TRUE(walk_changes(before, tmp / "parent").empty());
}

TEST(DiffPaths, UnpackRefusesAMismatchedDiffIdAndLeavesNothing) {
  TempDir tmp;
  make_parent(tmp / "parent");
  LayerBlob base = write_layer_from_dir(tmp / "parent", tmp / "base.tar.gz", {});
  std::string wrong = "sha256:" + std::string(64, '0');
  EXPECT_THROW(unpack_layer(base.file, tmp / "layer", wrong), Error);
  EXPECT_FALSE(fs::exists(tmp / "layer"));
  std::vector<std::string> left;
  for (auto& e : fs::directory_iterator(tmp.path())) left.push_back(e.path().filename());
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"base.tar.gz", "parent"}));
}

}  // namespace
}  // namespace mkimg::snapshot
