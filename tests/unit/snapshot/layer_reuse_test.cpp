// Rebuilding a layer from the one an earlier build made: gzip members copied from the earlier
// blob give the very bytes compression gives (and damaged or foreign members are compressed
// again), member cuts follow the content so a change in one file leaves the others' members
// alone, and materialize_spec() makes the files of a layer on disk, hardlinking the unchanged
// ones from the earlier layer's directory.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <algorithm>
#include <tuple>

#include "oci/digest.h"
#include "snapshot/layer_writer.h"
#include "snapshot/spec_tree.h"
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

std::string digest_of(const std::string& bytes) {
  oci::Sha256 h;
  h.update(bytes.data(), bytes.size());
  return h.finish().str();
}

/// A context of `files` text files in a few directories, and the spec that copies it to /ctx.
class Context {
 public:
  Context(const fs::path& root, int files) : root_(root) {
    for (int i = 0; i < files; ++i) {
      std::string rel = "d" + std::to_string(i % 4) + "/f" + std::to_string(i);
      fs::create_directories((root_ / rel).parent_path());
      write_bytes(root_ / rel, pseudo_random(6000 + static_cast<std::size_t>(i % 7) * 1500, i));
      stamp(rel);
      names_.push_back(rel);
    }
    fd_ = UniqueFd(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  }

  std::vector<SpecEntry> spec() const {
    std::vector<SpecEntry> out;
    out.push_back(dir("ctx"));
    for (int d = 0; d < 4; ++d) out.push_back(dir("ctx/d" + std::to_string(d)));
    for (const auto& rel : names_) {
      SpecEntry e;
      e.path = "ctx/" + rel;
      e.mode = S_IFREG | 0644;
      e.mtime = 1'600'000'000;
      e.mtime_nsec = 123;
      e.content_root = fd_.get();
      e.content_path = rel;
      e.digest = digest_of(read_bytes(root_ / rel));
      out.push_back(std::move(e));
    }
    return out;
  }

  void append(const std::string& rel, const std::string& more) {
    write_bytes(root_ / rel, read_bytes(root_ / rel) + more);
    stamp(rel);
  }

  /// Gives the source the mtime its spec entry says.
  void stamp(const std::string& rel) const {
    struct timespec ts[2] = {{1'600'000'000, 123}, {1'600'000'000, 123}};
    ::utimensat(AT_FDCWD, (root_ / rel).c_str(), ts, 0);
  }

  static SpecEntry dir(const std::string& path) {
    SpecEntry e;
    e.path = path;
    e.mode = S_IFDIR | 0755;
    e.mtime = 1'600'000'000;
    return e;
  }

 private:
  fs::path root_;
  std::vector<std::string> names_;
  UniqueFd fd_;
};

LayerOptions gzip_options(const EarlierLayer* earlier = nullptr) {
  LayerOptions o;
  o.compression = Compression::kGzip;
  o.index_members = true;
  o.earlier = earlier;
  return o;
}

/// The earlier layer `blob` is, members only (entries are read again).
EarlierLayer reuse_of(const LayerBlob& blob) {
  EarlierLayer e;
  e.blob = blob.file;
  e.format = blob.member_format;
  e.members = blob.members;
  e.tar_size = blob.tar_size;
  return e;
}

/// The earlier layer `blob` is, with its entries.
EarlierLayer earlier_of(const LayerBlob& blob) {
  EarlierLayer e = reuse_of(blob);
  for (const auto& [path, entry] : blob.written) e.entries.emplace(path, entry);
  return e;
}

TEST(LayerReuse, UnchangedMembersAreCopiedAndTheBytesAreThoseCompressionGives) {
  TempDir tmp;
  Context ctx(tmp / "ctx", 600);  // ~6 MB: a few dozen members
  LayerBlob first = write_layer_spec(ctx.spec(), tmp / "first.gz", gzip_options());
  ASSERT_GT(first.members.size(), 8u);
  EXPECT_EQ(first.members_reused, 0);
  EXPECT_EQ(run({"gzip", "-t", first.file.string()}).exit_code, 0);
  // Members are contiguous and cover the blob.
  int64_t at = 0;
  for (const auto& m : first.members) {
    EXPECT_EQ(m.offset, at);
    at += m.size;
  }
  EXPECT_EQ(at, first.size);

  // One file in the middle grows: the tar after it shifts, but the cuts follow the entries.
  ctx.append("d2/f302", "one more line\n");
  EarlierLayer reuse = reuse_of(first);
  LayerBlob fresh = write_layer_spec(ctx.spec(), tmp / "fresh.gz", gzip_options());
  LayerBlob again = write_layer_spec(ctx.spec(), tmp / "again.gz", gzip_options(&reuse));
  EXPECT_EQ(again.digest, fresh.digest);
  EXPECT_EQ(again.diff_id, fresh.diff_id);
  EXPECT_EQ(read_bytes(again.file), read_bytes(fresh.file));
  EXPECT_NE(again.digest, first.digest);
  EXPECT_GE(again.members_reused, static_cast<int64_t>(again.members.size()) - 3);
  EXPECT_LT(again.members_reused, static_cast<int64_t>(again.members.size()));

  // Without indexing the bytes are the same too (indexing never changes the output).
  LayerBlob plain = write_layer_spec(ctx.spec(), tmp / "plain.gz", {Compression::kGzip});
  EXPECT_EQ(plain.digest, fresh.digest);
  EXPECT_TRUE(plain.members.empty());
}

TEST(LayerReuse, DamagedOrForeignMembersAreCompressedAgain) {
  TempDir tmp;
  Context ctx(tmp / "ctx", 300);
  LayerBlob first = write_layer_spec(ctx.spec(), tmp / "first.gz", gzip_options());
  LayerBlob fresh = write_layer_spec(ctx.spec(), tmp / "fresh.gz", gzip_options());
  ASSERT_EQ(fresh.digest, first.digest);

  // Writes the layer with `reuse`; expects the fresh bytes and `copied` members copied.
  auto expect = [&](const EarlierLayer& reuse, int64_t copied, const std::string& what) {
    LayerBlob blob =
        write_layer_spec(ctx.spec(), tmp / ("out-" + what + ".gz"), gzip_options(&reuse));
    EXPECT_EQ(blob.members_reused, copied) << what;
    EXPECT_EQ(blob.digest, fresh.digest) << what;
  };
  // The same members under another libdeflate or level: never copied.
  EarlierLayer foreign = reuse_of(first);
  foreign.format = "libdeflate 0.1 gzip 6";
  expect(foreign, 0, "foreign");
  // Every member's trailer damaged in the earlier blob, or a byte in the middle of its
  // compressed data (the trailer intact): none decompresses to the new bytes.
  for (int64_t back : {6, 0}) {
    std::string bytes = read_bytes(first.file);
    for (const auto& m : first.members) {
      bytes[static_cast<std::size_t>(back ? m.offset + m.size - back : m.offset + m.size / 2)] ^= 1;
    }
    std::string name = back ? "damaged-trailers" : "damaged-data";
    write_bytes(tmp / (name + ".gz"), bytes);
    EarlierLayer damaged = reuse_of(first);
    damaged.blob = tmp / (name + ".gz");
    expect(damaged, 0, name);
  }
  // Offsets that point one byte off, and a blob that is gone.
  EarlierLayer shifted = reuse_of(first);
  for (auto& m : shifted.members) m.offset += 1;
  expect(shifted, 0, "shifted");
  EarlierLayer gone = reuse_of(first);
  gone.blob = tmp / "missing.gz";
  expect(gone, 0, "gone");
  // The intact blob: every member copied, same bytes.
  expect(reuse_of(first), static_cast<int64_t>(first.members.size()), "intact");
}

/// `spec` fingerprinted and made real in `dir`: an earlier layer's directory and its entries.
EarlierEntries made_earlier(std::vector<SpecEntry>& spec, const fs::path& dir) {
  fingerprint_entries(spec);
  fs::create_directories(dir);
  materialize_spec(spec, dir);
  EarlierEntries entries;
  for (const auto& e : spec) entries.emplace(e.path, EarlierEntry{e.fingerprint, 0, 0});
  return entries;
}

/// The fingerprinted spec of `ctx`.
std::vector<SpecEntry> fingerprinted(const Context& ctx) {
  auto s = ctx.spec();
  fingerprint_entries(s);
  return s;
}

// Entries the earlier layer holds with the same fingerprint are taken from its blob without
// reading their sources (here: deleted), and the bytes are still those of a fresh write.
TEST(LayerReuse, UnchangedEntriesAreTakenFromTheEarlierBlobUnread) {
  TempDir tmp;
  Context ctx(tmp / "ctx", 600);
  std::vector<SpecEntry> first_spec = fingerprinted(ctx);  // first.written views its paths
  LayerBlob first = write_layer_spec(first_spec, tmp / "first.gz", gzip_options());
  ASSERT_EQ(first.written.size(), 605u);  // 5 directories, 600 files
  int64_t at = 0;  // the entries are contiguous and end before the tar's trailer
  for (const auto& [path, e] : first.written) {
    EXPECT_EQ(e.tar_offset, at) << path;
    at += e.tar_size;
  }
  EXPECT_EQ(at + 1024, first.tar_size);

  ctx.append("d2/f302", "one more line\n");
  std::vector<SpecEntry> second = fingerprinted(ctx);
  for (auto& e : second) {
    if (e.path == "ctx/d1/f101") {
      e.mode = S_IFREG | 0600;
      e.fingerprint = entry_fingerprint(e);
    }
  }
  LayerBlob fresh = write_layer_spec(second, tmp / "fresh.gz", gzip_options());
  // Every source but the two changed ones is gone: they cannot be read.
  for (const auto& e : second) {
    if (S_ISREG(e.mode) && e.path != "ctx/d2/f302" && e.path != "ctx/d1/f101") {
      fs::remove(tmp / e.path);
    }
  }
  EarlierLayer earlier = earlier_of(first);
  LayerBlob again = write_layer_spec(second, tmp / "again.gz", gzip_options(&earlier));
  EXPECT_EQ(again.digest, fresh.digest);
  EXPECT_EQ(again.diff_id, fresh.diff_id);
  EXPECT_EQ(read_bytes(again.file), read_bytes(fresh.file));
  EXPECT_EQ(again.entries_reused, 603);
  EXPECT_GE(again.members_reused, static_cast<int64_t>(again.members.size()) - 4);
  EXPECT_EQ(again.written.size(), fresh.written.size());

  // Under another SOURCE_DATE_EPOCH nothing is taken unread: the sources are missing.
  EarlierLayer other_epoch = earlier_of(first);
  other_epoch.source_date_epoch = 1;
  EXPECT_THROW(write_layer_spec(second, tmp / "epoch.gz", gzip_options(&other_epoch)), Error);
}

// With the earlier blob checked against its digest, the first members that are the earlier
// layer's first members are copied without decompressing them, and the diff_id goes on from
// the hash state the earlier layer recorded after them: the bytes, the diff_id and the states
// recorded are still those of a fresh write.
TEST(LayerReuse, TheFirstUnchangedMembersAreCopiedUnread) {
  TempDir tmp;
  Context ctx(tmp / "ctx", 600);
  std::vector<SpecEntry> first_spec = fingerprinted(ctx);  // first.written views its paths
  LayerBlob first = write_layer_spec(first_spec, tmp / "first.gz", gzip_options());
  ASSERT_GT(first.members.size(), 8u);
  for (const auto& m : first.members) EXPECT_EQ(m.tar_state.size(), 64u) << m.tar_offset;

  ctx.append("d3/f303", "one more line\n");  // in the last quarter of the layer
  std::vector<SpecEntry> second = fingerprinted(ctx);
  LayerBlob fresh = write_layer_spec(second, tmp / "fresh.gz", gzip_options());
  auto members = static_cast<int64_t>(fresh.members.size());

  EarlierLayer checked = earlier_of(first);
  checked.digest = first.digest;
  LayerBlob again = write_layer_spec(second, tmp / "again.gz", gzip_options(&checked));
  EXPECT_EQ(read_bytes(again.file), read_bytes(fresh.file));
  EXPECT_EQ(again.diff_id, fresh.diff_id);
  EXPECT_GT(again.members_unread, members / 2);
  EXPECT_LT(again.members_unread, again.members_reused);
  ASSERT_EQ(again.members.size(), fresh.members.size());
  for (std::size_t i = 0; i < again.members.size(); ++i) {
    EXPECT_EQ(again.members[i].tar_state, fresh.members[i].tar_state) << i;
    EXPECT_EQ(again.members[i].hash, fresh.members[i].hash) << i;
  }

  // Unchecked, every member copied is decompressed and checked: none is unread.
  EarlierLayer unchecked_earlier = earlier_of(first);
  LayerBlob unchecked =
      write_layer_spec(second, tmp / "unchecked.gz", gzip_options(&unchecked_earlier));
  EXPECT_EQ(unchecked.diff_id, fresh.diff_id);
  EXPECT_EQ(unchecked.members_unread, 0);
  // A state that is not one stops the unread members there.
  EarlierLayer bad_state = checked;
  bad_state.members[3].tar_state = "not a state";
  LayerBlob stopped = write_layer_spec(second, tmp / "stopped.gz", gzip_options(&bad_state));
  EXPECT_EQ(stopped.diff_id, fresh.diff_id);
  EXPECT_EQ(stopped.members_unread, 3);
  // Nothing changed: all but the last member (the tar's end, written anew) are unread.
  LayerBlob same = write_layer_spec(first_spec, tmp / "same.gz", gzip_options(&checked));
  EXPECT_EQ(same.diff_id, first.diff_id);
  EXPECT_EQ(same.digest, first.digest);
  EXPECT_GE(same.members_unread, static_cast<int64_t>(first.members.size()) - 1);
}

/// 300 files written as a layer (`first`), then one of them changed: the new `spec` and the
/// layer a fresh write of it gives.
struct OneFileChanged {
  static std::vector<SpecEntry> change_one(Context& ctx) {
    ctx.append("d0/f0", "x\n");
    return fingerprinted(ctx);
  }
  TempDir tmp;
  Context ctx{tmp / "ctx", 300};
  const std::vector<SpecEntry> first_spec = fingerprinted(ctx);  // first.written views it
  const LayerBlob first = write_layer_spec(first_spec, tmp / "first.gz", gzip_options());
  const std::vector<SpecEntry> spec = change_one(ctx);
  const LayerBlob fresh = write_layer_spec(spec, tmp / "fresh.gz", gzip_options());
};

// A damaged earlier blob or record is a miss: the layer is written again from the sources.
TEST(LayerReuse, ADamagedEarlierBlobIsAMissNeverOtherBytes) {
  OneFileChanged c;
  const auto& [tmp, first, spec, fresh] = std::tie(c.tmp, c.first, c.spec, c.fresh);
  std::string bytes = read_bytes(first.file);
  for (const auto& m : first.members) bytes[static_cast<std::size_t>(m.offset + m.size / 2)] ^= 1;
  write_bytes(tmp / "damaged.gz", bytes);
  EarlierLayer damaged = earlier_of(first);
  damaged.blob = tmp / "damaged.gz";
  LayerBlob blob = write_layer_spec(spec, tmp / "out.gz", gzip_options(&damaged));
  EXPECT_EQ(blob.digest, fresh.digest);
  EXPECT_EQ(blob.entries_reused, 0);
}

// An earlier blob damaged where gzip checks nothing (a member header's MTIME): its members
// still decompress to the recorded bytes, but copied as they are they would put that damage
// into the new blob. Checked whole against its digest, it is not used.
TEST(LayerReuse, AnEarlierBlobThatIsNotItsDigestIsNotUsed) {
  OneFileChanged c;
  const auto& [tmp, first, spec, fresh] = std::tie(c.tmp, c.first, c.spec, c.fresh);
  ASSERT_GE(first.members.size(), 2u);

  EarlierLayer intact = earlier_of(first);
  intact.digest = first.digest;
  LayerBlob taken = write_layer_spec(spec, tmp / "taken.gz", gzip_options(&intact));
  EXPECT_EQ(taken.digest, fresh.digest);
  EXPECT_GT(taken.entries_reused, 0);

  std::string bytes = read_bytes(first.file);
  const BlobMember& last = first.members.back();
  ASSERT_EQ(bytes.substr(static_cast<std::size_t>(last.offset), 2), "\x1f\x8b");
  bytes[static_cast<std::size_t>(last.offset + 4)] ^= 1;  // MTIME
  write_bytes(tmp / "damaged.gz", bytes);
  EarlierLayer damaged = intact;
  damaged.blob = tmp / "damaged.gz";
  LayerBlob blob = write_layer_spec(spec, tmp / "out.gz", gzip_options(&damaged));
  EXPECT_EQ(blob.digest, fresh.digest);
  EXPECT_TRUE(read_bytes(blob.file) == read_bytes(fresh.file));
  EXPECT_EQ(blob.entries_reused, 0);
}

// The files materialize_spec() makes are the layer: tarred again they give the same blob, with
// owners, modes (setuid), xattrs, symlinks, hardlink groups and nanosecond mtimes.
TEST(LayerReuse, MaterializedFilesAreTheLayer) {
  TempDir tmp;
  Context ctx(tmp / "ctx", 20);
  std::vector<SpecEntry> spec = ctx.spec();
  SpecEntry etc = Context::dir("etc");
  etc.uid = 5;
  etc.gid = 6;
  etc.mode = S_IFDIR | 0700;
  etc.xattrs = {{"user.note", "kept"}};
  spec.push_back(etc);
  SpecEntry tool;
  tool.path = "etc/tool";
  tool.mode = S_IFREG | 04755;
  tool.uid = 7;
  tool.content = "#!/bin/sh\n";
  tool.mtime = 1'500'000'000;
  tool.mtime_nsec = 999;
  tool.link_group = 0;
  SpecEntry alias = tool;
  alias.path = "etc/alias";
  spec.push_back(tool);
  spec.push_back(alias);
  SpecEntry link;
  link.path = "etc/link";
  link.mode = S_IFLNK | 0777;
  link.link_target = "../ctx/d0/f0";
  link.mtime = 1'400'000'000;
  spec.push_back(link);

  fs::path made = tmp / "made";
  fs::create_directories(made);
  MaterializeStats stats = materialize_spec(spec, made);
  EXPECT_EQ(stats.linked, 0);
  EXPECT_EQ(stats.written, 21);  // the context's files and the tool (its alias is a link)
  EXPECT_TRUE(stats.changed.empty());
  LayerBlob from_spec = write_layer_spec(spec, tmp / "spec.gz", {Compression::kGzip});
  LayerBlob from_disk = write_layer_from_dir(made, tmp / "disk.gz", {Compression::kGzip});
  EXPECT_EQ(from_disk.digest, from_spec.digest);
  struct stat st {};
  ASSERT_EQ(::lstat((made / "etc/tool").c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_nsec, 999);
  EXPECT_EQ(st.st_mode, S_IFREG | 04755u);
  EXPECT_EQ(st.st_nlink, 2u);
  ASSERT_EQ(::lstat((made / "ctx/d1/f1").c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_nsec, 123);
  ASSERT_EQ(::lstat((made / "ctx").c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 1'600'000'000);  // set after its contents were written
  char value[16] = {};
  EXPECT_EQ(::lgetxattr((made / "etc").c_str(), "user.note", value, sizeof value), 4);

  // A source whose mtime is not the one the entry was made from is reported as changed.
  struct timespec ts[2] = {{1'600'000'001, 0}, {1'600'000'001, 0}};
  ::utimensat(AT_FDCWD, (tmp / "ctx/d2/f2").c_str(), ts, 0);
  fs::create_directories(tmp / "again");
  stats = materialize_spec(spec, tmp / "again");
  EXPECT_EQ(stats.changed, std::vector<std::string>{"ctx/d2/f2"});

  // A parent that is not an entry (or is a symlink of the layer) is refused.
  std::vector<SpecEntry> orphan = {spec[1]};
  fs::create_directories(tmp / "orphan");
  EXPECT_THROW(materialize_spec(orphan, tmp / "orphan"), Error);
}

// A layer of more files than one thread makes (materialize_spec makes files and symlinks on
// every core, a range of them each): still the layer, its hardlink group whole, the changed
// sources reported in layer order whichever thread met them, and an earlier layer's files
// linked from every thread.
TEST(LayerReuse, FilesMadeOnEveryCoreAreTheLayer) {
  TempDir tmp;
  Context ctx(tmp / "ctx", 1200);
  std::vector<SpecEntry> spec = ctx.spec();
  SpecEntry tool;
  tool.path = "ctx/d3/tool";
  tool.mode = S_IFREG | 0755;
  tool.content = "#!/bin/sh\n";
  tool.link_group = 0;
  SpecEntry alias = tool;
  alias.path = "ctx/d0/alias";
  SpecEntry link;
  link.path = "ctx/d2/link";
  link.mode = S_IFLNK | 0777;
  link.link_target = "../missing";
  spec.insert(spec.end(), {tool, alias, link});

  fs::path made = tmp / "made";
  fs::create_directories(made);
  MaterializeStats stats = materialize_spec(spec, made);
  EXPECT_EQ(stats.written, 1201);
  EXPECT_TRUE(stats.changed.empty());
  LayerBlob from_spec = write_layer_spec(spec, tmp / "spec.gz", {Compression::kGzip});
  LayerBlob from_disk = write_layer_from_dir(made, tmp / "disk.gz", {Compression::kGzip});
  EXPECT_EQ(from_disk.digest, from_spec.digest);
  struct stat a {
  }, b{};
  ASSERT_EQ(::lstat((made / "ctx/d3/tool").c_str(), &a), 0);
  ASSERT_EQ(::lstat((made / "ctx/d0/alias").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);

  // Sources changed at both ends of the layer: reported in layer order.
  for (const char* rel : {"d3/f7", "d0/f4"}) {
    struct timespec ts[2] = {{1'600'000'001, 0}, {1'600'000'001, 0}};
    ::utimensat(AT_FDCWD, (tmp / "ctx" / rel).c_str(), ts, 0);
  }
  fs::create_directories(tmp / "again");
  stats = materialize_spec(spec, tmp / "again");
  EXPECT_EQ(stats.changed, (std::vector<std::string>{"ctx/d0/f4", "ctx/d3/f7"}));
  ctx.stamp("d3/f7");
  ctx.stamp("d0/f4");

  // The same files again over the first ones: all linked but the hardlink group.
  EarlierEntries entries = made_earlier(spec, tmp / "earlier");
  SharedFiles shared{{tmp / "earlier"}, &entries};
  fs::create_directories(tmp / "linked");
  stats = materialize_spec(spec, tmp / "linked", &shared);
  EXPECT_EQ(stats.linked, 1200);
  EXPECT_EQ(stats.written, 1);
  EXPECT_EQ(list_tree(tmp / "linked"), list_tree(made));
}

TEST(LayerReuse, UnchangedFilesAreLinkedFromTheEarlierLayer) {
  TempDir tmp;
  Context ctx(tmp / "ctx", 40);
  std::vector<SpecEntry> first = ctx.spec();
  fs::path earlier = tmp / "earlier";
  EarlierEntries entries = made_earlier(first, earlier);
  SharedFiles shared{{earlier}, &entries};

  ctx.append("d3/f3", "changed\n");
  std::vector<SpecEntry> second = ctx.spec();
  for (auto& e : second) {
    if (e.path == "ctx/d1/f5") e.mtime_nsec = 124;  // touched: same bytes, other metadata
    if (e.path == "ctx/d2/f6") e.mode = S_IFREG | 0600;
    if (e.path == "ctx/d0/f8") e.link_group = 3;  // in a hardlink group: never shared
  }
  fingerprint_entries(second);
  fs::path later = tmp / "later", alone = tmp / "alone";
  fs::create_directories(later);
  fs::create_directories(alone);
  MaterializeStats stats = materialize_spec(second, later, &shared);
  EXPECT_EQ(stats.linked, 36);
  EXPECT_EQ(stats.written, 4);
  materialize_spec(second, alone);
  EXPECT_EQ(list_tree(later), list_tree(alone));

  auto inode = [](const fs::path& p) {
    struct stat st {};
    ::lstat(p.c_str(), &st);
    return st.st_ino;
  };
  EXPECT_EQ(inode(later / "ctx/d1/f1"), inode(earlier / "ctx/d1/f1"));
  for (const char* rel : {"ctx/d3/f3", "ctx/d1/f5", "ctx/d2/f6", "ctx/d0/f8"}) {
    EXPECT_NE(inode(later / rel), inode(earlier / rel)) << rel;
  }
  EXPECT_EQ(read_bytes(earlier / "ctx/d3/f3") + "changed\n", read_bytes(later / "ctx/d3/f3"));
}

}  // namespace
}  // namespace mkimg::snapshot

namespace mkimg::snapshot {
namespace {

/// Mounts `lowers` (topmost first) read-only at `at` for the scope.
class OverlayView {
 public:
  OverlayView(const std::vector<fs::path>& lowers, const fs::path& at) : at_(at) {
    fs::create_directories(at);
    std::string opt = "lowerdir=";
    for (std::size_t i = 0; i < lowers.size(); ++i) opt += (i ? ":" : "") + lowers[i].string();
    mounted_ = ::mount("overlay", at.c_str(), "overlay", MS_RDONLY, opt.c_str()) == 0;
  }
  ~OverlayView() {
    if (mounted_) ::umount2(at_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }

 private:
  fs::path at_;
  bool mounted_ = false;
};

// A delta over the earlier layer's directory, mounted above it, is the new layer: changed,
// new and re-typed entries, a directory's new metadata, and whiteouts for what went (a file,
// a whole directory), and nothing else is made.
TEST(LayerReuse, ADeltaAboveTheEarlierLayerIsTheNewLayer) {
  TempDir tmp;
  Context ctx(tmp / "ctx", 40);
  std::vector<SpecEntry> first = ctx.spec();
  SpecEntry gone_dir = Context::dir("ctx/gone");
  SpecEntry gone_file;
  gone_file.path = "ctx/gone/file";
  gone_file.mode = S_IFREG | 0644;
  gone_file.content = "bye\n";
  SpecEntry retyped = gone_file;
  retyped.path = "ctx/retyped";
  first.insert(first.end(), {gone_dir, gone_file, retyped});
  fs::path earlier = tmp / "earlier";
  EarlierEntries entries = made_earlier(first, earlier);

  ctx.append("d3/f3", "changed\n");
  std::vector<SpecEntry> second = ctx.spec();
  second.erase(std::remove_if(second.begin(), second.end(),
                              [](const SpecEntry& e) { return e.path == "ctx/d1/f5"; }),
               second.end());
  for (auto& e : second) {
    if (e.path == "ctx/d2") e.mode = S_IFDIR | 0700;
  }
  SpecEntry now_dir = Context::dir("ctx/retyped");
  SpecEntry inside = gone_file;
  inside.path = "ctx/retyped/inside";
  SpecEntry added = gone_file;
  added.path = "ctx/d0/new";
  second.insert(second.end(), {now_dir, inside, added});
  fingerprint_entries(second);

  fs::path delta = tmp / "delta";
  fs::create_directories(delta);
  // Something below at a path to hide: no delta (the whiteout would hide it too).
  EXPECT_FALSE(materialize_delta(second, delta, entries, {earlier},
                                 [](const std::string& p) { return p != "ctx/gone"; }));
  EXPECT_TRUE(fs::is_empty(delta));
  auto stats =
      materialize_delta(second, delta, entries, {earlier}, [](const std::string&) { return true; });
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->written, 3);    // f3, retyped/inside, d0/new
  EXPECT_EQ(stats->whiteouts, 2);  // d1/f5, gone (its file goes with it)
  // Made: ctx, d0, d1, d2 (its mode), d3, retyped on the way or changed; the rest kept.
  EXPECT_EQ(stats->kept, static_cast<int64_t>(second.size()) - 9);
  struct stat st {};
  ASSERT_EQ(::lstat((delta / "ctx/gone").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode) && st.st_rdev == 0);
  EXPECT_FALSE(fs::exists(delta / "ctx/d1/f1"));

  OverlayView view({delta, earlier}, tmp / "view");
  if (!view.mounted()) GTEST_SKIP() << "no overlay mount here";
  LayerBlob merged = write_layer_from_dir(tmp / "view", tmp / "merged.gz", {Compression::kGzip});
  LayerBlob wanted = write_layer_spec(second, tmp / "wanted.gz", {Compression::kGzip});
  EXPECT_EQ(merged.digest, wanted.digest);

  // More than half changed: nothing is made, a whole directory is better.
  for (auto& e : second) {
    if (S_ISREG(e.mode)) e.mtime_nsec = 7;
  }
  fingerprint_entries(second);
  fs::path none = tmp / "none";
  fs::create_directories(none);
  EXPECT_FALSE(
      materialize_delta(second, none, entries, {earlier}, [](const std::string&) { return true; }));
  EXPECT_TRUE(fs::is_empty(none));
}

}  // namespace
}  // namespace mkimg::snapshot
