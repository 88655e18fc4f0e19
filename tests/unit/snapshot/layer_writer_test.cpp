// The deterministic layer writer: same tree -> same bytes, whatever the directory, the time
// of creation or the number of threads; clean gzip header; zstd readable by zstd(1); tar(1)
// lists what we expect.
#include "snapshot/layer_writer.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "common/error.h"
#include "snapshot/apply.h"
#include "tests/support/harness.h"
#include "tests/support/tar_builder.h"
#include "tests/support/tree_listing.h"

namespace mkimg::snapshot {
namespace {

using mkimg::testing::run;
using mkimg::testing::TempDir;
using testing::list_tree;
using testing::pseudo_random;
using testing::read_bytes;
using testing::write_bytes;

/// A small tree with every file type the writer handles.
void make_tree(const fs::path& root) {
  fs::create_directories(root / "etc/app");
  fs::create_directories(root / "usr/bin");
  write_bytes(root / "etc/app/config", "key=value\n");
  write_bytes(root / "usr/bin/tool", pseudo_random(3 << 20, 7));
  ::chmod((root / "usr/bin/tool").c_str(), 04755);
  fs::create_hard_link(root / "usr/bin/tool", root / "usr/bin/tool-alias");
  fs::create_symlink("../usr/bin/tool", root / "etc/tool-link");
  ::mkfifo((root / "etc/fifo").c_str(), 0600);
  ::mknod((root / "etc/null").c_str(), S_IFCHR | 0666, makedev(1, 3));
  ::chmod((root / "etc/null").c_str(), 0666);
  ::setxattr((root / "usr/bin/tool").c_str(), "user.note", "hi", 2, 0);
  ::setxattr((root / "usr/bin/tool").c_str(), "security.capability",
             "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 20,
             0);
  ::setxattr((root / "etc").c_str(), "trusted.overlay.opaque", "y", 1, 0);
  ::setxattr((root / "etc").c_str(), "user.overlay.opaque", "y", 1, 0);
  ::lchown((root / "etc/app/config").c_str(), 1000, 2000);
}

/// Sets every mtime under `root` to `t`.
void set_times(const fs::path& root, int64_t t) {
  timespec ts[2] = {{t, 0}, {t, 0}};
  for (auto& e : fs::recursive_directory_iterator(root)) {
    ::utimensat(AT_FDCWD, e.path().c_str(), ts, AT_SYMLINK_NOFOLLOW);
  }
}

std::string sha256_of_command(const std::string& cmd) {
  auto r = run({"sh", "-c", cmd + " | sha256sum | cut -d' ' -f1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return "sha256:" + r.out.substr(0, 64);
}

TEST(LayerWriter, SameTreeInOtherDirectoryAndTimeGivesSameBytes) {
  TempDir tmp;
  make_tree(tmp / "a");
  make_tree(tmp / "b");
  set_times(tmp / "a", 1'700'000'000);
  set_times(tmp / "b", 1'800'000'000);
  for (Compression c : {Compression::kGzip, Compression::kZstd, Compression::kNone}) {
    LayerOptions options{c, 1'600'000'000, 0, 0};
    LayerBlob a = write_layer_from_dir(tmp / "a", tmp / "a.tar", options);
    LayerBlob b = write_layer_from_dir(tmp / "b", tmp / "b.tar", options);
    EXPECT_EQ(a.digest, b.digest);
    EXPECT_EQ(a.diff_id, b.diff_id);
    EXPECT_EQ(read_bytes(tmp / "a.tar"), read_bytes(tmp / "b.tar"));
  }
}

TEST(LayerWriter, ThreadCountNeverChangesTheBytes) {
  TempDir tmp;
  make_tree(tmp / "t");
  write_bytes(tmp / "t/big", pseudo_random(5 << 20, 3));
  for (Compression c : {Compression::kGzip, Compression::kZstd}) {
    std::string first;
    for (int threads : {1, 2, 3}) {
      LayerOptions options{c, std::nullopt, threads, 0};
      LayerBlob blob = write_layer_from_dir(tmp / "t", tmp / "out", options);
      if (first.empty()) first = blob.digest;
      EXPECT_EQ(blob.digest, first) << "threads=" << threads;
    }
  }
}

TEST(LayerWriter, DigestsAreOfTheFileAndOfTheUncompressedTar) {
  TempDir tmp;
  make_tree(tmp / "t");
  LayerBlob gz = write_layer_from_dir(tmp / "t", tmp / "l.gz", {Compression::kGzip});
  EXPECT_EQ(gz.digest, sha256_of_command("cat " + (tmp / "l.gz").string()));
  EXPECT_EQ(gz.diff_id, sha256_of_command("gzip -dc " + (tmp / "l.gz").string()));
  EXPECT_EQ(gz.size, static_cast<int64_t>(fs::file_size(tmp / "l.gz")));
  EXPECT_EQ(gz.media_type, "application/vnd.oci.image.layer.v1.tar+gzip");
  LayerBlob zs = write_layer_from_dir(tmp / "t", tmp / "l.zst", {Compression::kZstd});
  EXPECT_EQ(zs.diff_id, sha256_of_command("zstd -dc " + (tmp / "l.zst").string()));
  EXPECT_EQ(zs.diff_id, gz.diff_id);
  EXPECT_EQ(zs.media_type, "application/vnd.oci.image.layer.v1.tar+zstd");
  LayerBlob plain = write_layer_from_dir(tmp / "t", tmp / "l.tar", {Compression::kNone});
  EXPECT_EQ(plain.digest, plain.diff_id);
  EXPECT_EQ(plain.diff_id, gz.diff_id);
}

TEST(LayerWriter, GzipHeaderHasNoNameAndNoTime) {
  TempDir tmp;
  make_tree(tmp / "t");
  write_layer_from_dir(tmp / "t", tmp / "l.gz", {Compression::kGzip});
  std::string bytes = read_bytes(tmp / "l.gz");
  ASSERT_GT(bytes.size(), 10u);
  EXPECT_EQ(bytes.substr(0, 3), std::string("\x1f\x8b\x08", 3));
  EXPECT_EQ(bytes[3], 0) << "no FNAME, FCOMMENT or FEXTRA";
  EXPECT_EQ(bytes.substr(4, 4), std::string(4, '\0')) << "MTIME is zero";
  EXPECT_EQ(run({"gzip", "-t", (tmp / "l.gz").string()}).exit_code, 0);
}

TEST(LayerWriter, TarListsSortedEntriesWithNumericOwnersLinksAndDevices) {
  TempDir tmp;
  make_tree(tmp / "t");
  write_layer_from_dir(tmp / "t", tmp / "l.gz", {Compression::kGzip, 1'600'000'000});
  auto r = run({"tar", "--numeric-owner", "-tvzf", (tmp / "l.gz").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto names = run({"tar", "-tzf", (tmp / "l.gz").string()});
  EXPECT_EQ(names.out,
            "etc/\netc/app/\netc/app/config\netc/fifo\netc/null\netc/tool-link\nusr/\n"
            "usr/bin/\nusr/bin/tool\nusr/bin/tool-alias\n");
  EXPECT_NE(r.out.find("-rwsr-xr-x 0/0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1000/2000"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("usr/bin/tool-alias link to usr/bin/tool"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("etc/tool-link -> ../usr/bin/tool"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("crw-rw-rw- 0/0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" 1,3 "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("prw-------"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2020-09-13"), std::string::npos) << "clamped to SOURCE_DATE_EPOCH";
  auto xattrs = run({"sh", "-c", "gzip -dc " + (tmp / "l.gz").string() + " | strings"});
  EXPECT_NE(xattrs.out.find("SCHILY.xattr.security.capability"), std::string::npos);
  EXPECT_NE(xattrs.out.find("SCHILY.xattr.user.note"), std::string::npos);
  EXPECT_EQ(xattrs.out.find("overlay."), std::string::npos);
  EXPECT_EQ(xattrs.out.find("atime"), std::string::npos);
  EXPECT_EQ(xattrs.out.find("ctime"), std::string::npos);
}

TEST(LayerWriter, SourceDateEpochClampsOnlyLaterTimes) {
  TempDir tmp;
  fs::create_directories(tmp / "t");
  write_bytes(tmp / "t/old", "o");
  write_bytes(tmp / "t/new", "n");
  timespec old_ts[2] = {{1'000'000'000, 0}, {1'000'000'000, 0}};
  timespec new_ts[2] = {{1'900'000'000, 0}, {1'900'000'000, 0}};
  ::utimensat(AT_FDCWD, (tmp / "t/old").c_str(), old_ts, 0);
  ::utimensat(AT_FDCWD, (tmp / "t/new").c_str(), new_ts, 0);
  write_layer_from_dir(tmp / "t", tmp / "l.tar", {Compression::kNone, 1'500'000'000});
  fs::create_directories(tmp / "out");
  apply_layer(tmp / "l.tar", tmp / "out", ApplyMode::kFlatten);
  struct stat st {};
  ::stat((tmp / "out/old").c_str(), &st);
  EXPECT_EQ(st.st_mtim.tv_sec, 1'000'000'000);
  ::stat((tmp / "out/new").c_str(), &st);
  EXPECT_EQ(st.st_mtim.tv_sec, 1'500'000'000);
}

TEST(LayerWriter, ApplyingTheLayerReproducesTheTree) {
  TempDir tmp;
  make_tree(tmp / "t");
  ::removexattr((tmp / "t/etc").c_str(), "trusted.overlay.opaque");
  ::removexattr((tmp / "t/etc").c_str(), "user.overlay.opaque");
  for (Compression c : {Compression::kGzip, Compression::kZstd, Compression::kNone}) {
    fs::remove_all(tmp / "out");
    fs::create_directories(tmp / "out");
    LayerBlob blob = write_layer_from_dir(tmp / "t", tmp / "l", {c});
    ApplyResult r = apply_layer(tmp / "l", tmp / "out", ApplyMode::kFlatten);
    EXPECT_EQ(r.diff_id, blob.diff_id);
    EXPECT_EQ(list_tree(tmp / "out"), list_tree(tmp / "t"));
  }
}

TEST(LayerWriter, EmptyTreeGivesAValidLayer) {
  TempDir tmp;
  fs::create_directories(tmp / "t");
  LayerBlob blob = write_layer_from_dir(tmp / "t", tmp / "l.gz", {Compression::kGzip});
  EXPECT_EQ(blob.entries, 0);
  EXPECT_EQ(run({"tar", "-tzf", (tmp / "l.gz").string()}).exit_code, 0);
}

TEST(LayerWriter, MissingSourceIsAClearErrorAndLeavesNoFile) {
  TempDir tmp;
  fs::create_directories(tmp / "t");
  try {
    write_layer(tmp / "t", {{"nope", EntryKind::kTree}}, tmp / "l.gz", {});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nope"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(tmp / "l.gz"));
}

TEST(LayerWriter, PathsSortComponentByComponent) {
  EXPECT_TRUE(layer_path_less("a", "a-b"));
  EXPECT_TRUE(layer_path_less("a/z", "a-b"));
  EXPECT_TRUE(layer_path_less("a/.wh..wh..opq", "a/b"));
  EXPECT_FALSE(layer_path_less("a", "a"));
}

}  // namespace
}  // namespace mkimg::snapshot

namespace mkimg::snapshot {
namespace {

// write_layer_spec (COPY straight into a layer) writes the very bytes write_layer writes for a
// tree with the same metadata: directories, a hard-linked file with xattrs and a setuid bit,
// a symlink, a file given by its bytes; entries in any order.
TEST(LayerWriterSpec, SameBytesAsTheTreeWithTheSameMetadata) {
  mkimg::testing::TempDir tmp;
  fs::path src = tmp / "src", tree = tmp / "tree";
  fs::create_directories(src);
  write_bytes(src / "tool", pseudo_random(3 << 20, 9));
  fs::create_directories(tree / "usr/bin");
  fs::create_directories(tree / "etc");
  write_bytes(tree / "usr/bin/tool", read_bytes(src / "tool"));
  ::chmod((tree / "usr/bin/tool").c_str(), 04755);
  fs::create_hard_link(tree / "usr/bin/tool", tree / "usr/bin/alias");
  ::setxattr((tree / "usr").c_str(), "user.note", "hi", 2, 0);
  fs::create_symlink("../usr/bin/tool", tree / "etc/link");
  write_bytes(tree / "etc/motd", "hello\n");
  ::chmod((tree / "etc/motd").c_str(), 0640);
  ::lchown((tree / "etc/motd").c_str(), 7, 8);
  set_times(tree, 1'600'000'000);

  UniqueFd src_fd(::open(src.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  auto dir = [](std::string path, unsigned mode) {
    SpecEntry e;
    e.path = std::move(path);
    e.mode = S_IFDIR | mode;
    e.mtime = 1'600'000'000;
    return e;
  };
  std::vector<SpecEntry> spec;
  SpecEntry motd = dir("etc/motd", 0);
  motd.mode = S_IFREG | 0640;
  motd.uid = 7;
  motd.gid = 8;
  motd.content = "hello\n";
  spec.push_back(motd);
  SpecEntry tool = dir("usr/bin/tool", 0);
  tool.mode = S_IFREG | 04755;
  tool.content_root = src_fd.get();
  tool.content_path = "tool";
  tool.link_group = 1;
  SpecEntry alias = tool;
  alias.path = "usr/bin/alias";
  spec.push_back(tool);
  spec.push_back(alias);
  SpecEntry link = dir("etc/link", 0);
  link.mode = S_IFLNK | 0777;
  link.link_target = "../usr/bin/tool";
  spec.push_back(link);
  SpecEntry usr = dir("usr", 0755);
  usr.xattrs = {{"user.note", "hi"}};
  spec.push_back(usr);
  spec.push_back(dir("usr/bin", 0755));
  spec.push_back(dir("etc", 0755));

  LayerBlob from_tree = write_layer_from_dir(tree, tmp / "tree.gz", {Compression::kGzip});
  LayerBlob from_spec = write_layer_spec(spec, tmp / "spec.gz", {Compression::kGzip});
  EXPECT_EQ(from_spec.diff_id, from_tree.diff_id);
  EXPECT_EQ(from_spec.digest, from_tree.digest);
  EXPECT_EQ(from_spec.entries, from_tree.entries);

  spec.push_back(dir("etc", 0755));
  EXPECT_THROW(write_layer_spec(spec, tmp / "twice.gz", {Compression::kGzip}), Error);
  EXPECT_FALSE(fs::exists(tmp / "twice.gz"));
}

}  // namespace
}  // namespace mkimg::snapshot
