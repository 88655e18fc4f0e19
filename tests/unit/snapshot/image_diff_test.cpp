// snapshot/image_diff.h on hand-made layers and configs: what `mkimg diff` reports.
#include "snapshot/image_diff.h"

#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <map>

#include "common/error.h"
#include "oci/digest.h"
#include "oci/media_types.h"
#include "oci/transport.h"
#include "tests/support/harness.h"
#include "tests/support/tar_builder.h"

namespace mkimg::snapshot {
namespace {

using snapshot::testing::dir;
using snapshot::testing::file;
using snapshot::testing::gzip;
using snapshot::testing::make_tar;
using snapshot::testing::symlink;
using snapshot::testing::TarEntry;

/// Hands out a string in small pieces (so entries straddle reads).
snapshot::BlobReader string_reader(const std::string& bytes) {
  auto pos = std::make_shared<std::size_t>(0);
  return [&bytes, pos](void* data, std::size_t size) {
    std::size_t n = std::min<std::size_t>({size, bytes.size() - *pos, 1000});
    std::memcpy(data, bytes.data() + *pos, n);
    *pos += n;
    return n;
  };
}

std::vector<FileChange> diff(const std::vector<TarEntry>& a, const std::vector<TarEntry>& b) {
  std::string ta = make_tar(a), tb = make_tar(b);
  return diff_layers(string_reader(ta), "a", string_reader(tb), "b");
}

std::map<std::string, std::pair<std::string, std::string>> fields_of(const FileChange& c) {
  std::map<std::string, std::pair<std::string, std::string>> out;
  for (const auto& f : c.fields) out[f.field] = {f.before, f.after};
  return out;
}

TEST(LayerDiff, SameEntriesGiveNothing) {
  std::vector<TarEntry> layer{dir("etc"), file("etc/a", "hello"), symlink("etc/l", "a")};
  EXPECT_TRUE(diff(layer, layer).empty());
}

TEST(LayerDiff, CompressionDoesNotMatter) {
  std::string tar = make_tar({dir("etc"), file("etc/a", "hello")});
  std::string gz = gzip(tar);
  EXPECT_TRUE(diff_layers(string_reader(tar), "a", string_reader(gz), "b").empty());
}

TEST(LayerDiff, AddedAndRemovedFilesAreNamedWithALeadingSlash) {
  auto changes = diff({file("old", "1"), file("same")}, {file("same"), file("new", "22")});
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].path, "/new");
  EXPECT_EQ(changes[0].kind, FileChange::Kind::kAdded);
  EXPECT_EQ(changes[0].after->size, 2);
  EXPECT_EQ(changes[1].path, "/old");
  EXPECT_EQ(changes[1].kind, FileChange::Kind::kRemoved);
}

TEST(LayerDiff, ChangedModeOwnerAndMtime) {
  TarEntry a = file("f", "x", 0644), b = file("f", "x", 0600);
  b.uid = 1000;
  b.gid = 100;
  b.mtime = a.mtime + 5;
  auto changes = diff({a}, {b});
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].kind, FileChange::Kind::kChanged);
  auto f = fields_of(changes[0]);
  EXPECT_EQ(f["mode"], std::make_pair(std::string("0644"), std::string("0600")));
  EXPECT_EQ(f["uid"], std::make_pair(std::string("0"), std::string("1000")));
  EXPECT_EQ(f["gid"], std::make_pair(std::string("0"), std::string("100")));
  EXPECT_EQ(f["mtime"], std::make_pair(std::to_string(a.mtime), std::to_string(b.mtime)));
  EXPECT_EQ(f.count("content"), 0u);
  EXPECT_EQ(f.count("size"), 0u);
}

TEST(LayerDiff, ChangedContentOfTheSameSizeIsFoundByDigest) {
  auto changes = diff({file("stamp", "aaaa")}, {file("stamp", "bbbb")});
  ASSERT_EQ(changes.size(), 1u);
  auto f = fields_of(changes[0]);
  EXPECT_EQ(f.count("size"), 0u);
  ASSERT_EQ(f.count("content"), 1u);
  EXPECT_EQ(f["content"].first, oci::digest_of(oci::DigestAlgorithm::kSha256, "aaaa").str());
  EXPECT_EQ(f["content"].second, oci::digest_of(oci::DigestAlgorithm::kSha256, "bbbb").str());
}

TEST(LayerDiff, ChangedSymlinkTargetAndType) {
  auto changes = diff({symlink("l", "/a"), file("t")}, {symlink("l", "/b"), dir("t")});
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(fields_of(changes[0])["link"], std::make_pair(std::string("/a"), std::string("/b")));
  EXPECT_EQ(fields_of(changes[1])["type"],
            std::make_pair(std::string("file"), std::string("directory")));
}

TEST(LayerDiff, ChangedXattr) {
  TarEntry a = file("f"), b = file("f");
  a.xattrs = {{"user.k", "one"}};
  b.xattrs = {{"user.k", "two"}};
  auto changes = diff({a}, {b});
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(fields_of(changes[0])["xattr user.k"],
            std::make_pair(std::string("\"one\""), std::string("\"two\"")));
}

TEST(LayerDiff, PathsAreCleanedBeforePairing) {
  EXPECT_TRUE(diff({dir("./etc/"), file("./etc/a")}, {dir("etc"), file("etc/a")}).empty());
}

TEST(LayerDiff, CorruptLayerIsAnError) {
  std::string bad = "this is not a tar archive at all, not even close" + std::string(600, 'x');
  std::string good = make_tar({file("a")});
  EXPECT_THROW(diff_layers(string_reader(good), "a", string_reader(bad), "b"), Error);
}

using mkimg::testing::error_of;

// A hostile layer is read within the apply limits, as an unpack reads it: a gzip bomb stops at
// the ratio, a layer at its size cap, and so do too many entries and too long names; before,
// `mkimg diff` decompressed and listed whatever a pulled image held.
TEST(LayerDiff, AHostileLayerIsReadWithinTheApplyLimits) {
  auto read = [](const std::string& blob, const ApplyLimits& limits) {
    return error_of([&] {
      read_layer_entries(
          string_reader(blob), "b", [](TarEntryInfo&&) {}, "", limits);
    });
  };
  std::vector<TarEntry> many;
  for (int i = 0; i < 20; ++i)
    many.push_back(file("f" + std::to_string(i), std::string(64 << 10, 'z')));
  std::string tar = make_tar(many);
  ApplyLimits ratio;
  ratio.ratio_grace_bytes = 64 << 10;
  ratio.max_ratio = 10;
  EXPECT_NE(read(gzip(tar), ratio).find("times its compressed size"), std::string::npos);
  ApplyLimits size;
  size.max_total_bytes = 100 << 10;
  EXPECT_NE(read(gzip(tar), size).find("larger than the limit"), std::string::npos);
  ApplyLimits entries;
  entries.max_entries = 19;
  EXPECT_NE(read(tar, entries).find("more than 19 entries"), std::string::npos);
  ApplyLimits names;
  names.max_path_bytes = 2;
  EXPECT_NE(read(tar, names).find("longer than 2 bytes"), std::string::npos);
  EXPECT_EQ(read(tar, ApplyLimits{}), "");
}

// Whatever fails (the blob's reader, its tar, an interrupt), the message names the layer once:
// before, read_layer_entries rewrapped every error but those starting "read layer ".
TEST(LayerDiff, EveryErrorNamesTheLayerOnce) {
  auto read = [](const snapshot::BlobReader& reader, const ApplyLimits& limits = {}) {
    return error_of([&] {
      read_layer_entries(
          reader, "b", [](TarEntryInfo&&) {}, "", limits);
    });
  };
  std::string tar = make_tar({file("a", std::string(600 << 10, 'z'))});
  int calls = 0;
  auto failing = [&](void* data, std::size_t size) -> std::size_t {
    if (++calls > 2) throw Error("connection reset");
    std::size_t n = std::min<std::size_t>(size, 1000);
    std::memcpy(data, tar.data() + (calls - 1) * 1000, n);
    return n;
  };
  EXPECT_EQ(read(failing), "read layer `b`: connection reset");
  std::string bad = "this is not a tar archive at all, not even close" + std::string(600, 'x');
  std::string corrupt = read(string_reader(bad));
  EXPECT_TRUE(corrupt.starts_with("read layer `b`: tar header: ")) << corrupt;
  ApplyLimits stop;
  stop.keep_going = [] { return false; };
  EXPECT_EQ(read(string_reader(tar), stop), "read layer `b`: interrupted");
}

TEST(LayerDiff, ALayerWhoseBytesAreNotItsDiffIdIsAnError) {
  std::string tar = make_tar({file("a", "one")});
  std::string other = make_tar({file("a", "two")});
  std::string right = oci::sha256_of(tar).str();
  EXPECT_EQ(error_of([&] {
              diff_layers(string_reader(tar), "a", string_reader(tar), "b", right, right);
            }),
            "");
  std::string message = error_of(
      [&] { diff_layers(string_reader(tar), "a", string_reader(other), "b", right, right); });
  EXPECT_NE(message.find("read layer `b`"), std::string::npos) << message;
  EXPECT_NE(message.find("not " + right), std::string::npos) << message;
}

/// An image held in memory: layer blobs by digest.
class MemoryImage : public DiffImage {
 public:
  std::map<std::string, std::string> blobs;

  void add_layer(const std::string& tar) {
    oci::Descriptor d{.media_type = std::string(oci::media_type::kOciLayer),
                      .digest = oci::digest_of(oci::DigestAlgorithm::kSha256, tar),
                      .size = static_cast<std::int64_t>(tar.size())};
    blobs[d.digest.str()] = tar;
    manifest.layers.push_back(d);
    config.rootfs.diff_ids.push_back(d.digest);
  }
  void finish() {
    manifest_descriptor.digest = oci::digest_of(oci::DigestAlgorithm::kSha256,
                                                oci::to_json(manifest) + oci::to_json(config));
  }
  std::unique_ptr<oci::BlobStream> open_layer(const oci::Descriptor& layer) override {
    struct Stream : oci::BlobStream {
      std::string bytes;
      std::size_t pos = 0;
      std::size_t read(void* data, std::size_t size) override {
        std::size_t n = std::min(size, bytes.size() - pos);
        std::memcpy(data, bytes.data() + pos, n);
        pos += n;
        return n;
      }
    };
    auto s = std::make_unique<Stream>();
    s->bytes = blobs.at(layer.digest.str());
    return s;
  }
};

MemoryImage image(const std::vector<std::vector<TarEntry>>& layers) {
  MemoryImage m;
  m.name = "img";
  m.config.architecture = "amd64";
  m.config.os = "linux";
  m.config.config = oci::ContainerConfig{};
  m.config.config->env = std::vector<std::string>{"PATH=/bin"};
  for (const auto& l : layers) m.add_layer(make_tar(l));
  m.finish();
  return m;
}

TEST(ImageDiffTest, IdenticalImages) {
  MemoryImage a = image({{file("a")}}), b = image({{file("a")}});
  ImageDiff d = diff_images(a, b);
  EXPECT_TRUE(d.identical());
  EXPECT_EQ(format_text(d), "");
}

TEST(ImageDiffTest, ConfigFieldsAndTheLayerThatDiffers) {
  MemoryImage a = image({{file("a")}, {file("stamp", "1")}});
  MemoryImage b = image({{file("a")}, {file("stamp", "2")}});
  b.config.config->env = std::vector<std::string>{"PATH=/bin", "X=1"};
  b.config.config->cmd = std::vector<std::string>{"sh"};
  b.config.created = "2026-01-01T00:00:00Z";
  b.finish();
  ImageDiff d = diff_images(a, b);
  EXPECT_FALSE(d.identical());
  std::vector<std::string> fields;
  for (const auto& f : d.config) fields.push_back(f.field);
  EXPECT_EQ(fields, (std::vector<std::string>{"config.Cmd", "config.Env", "created",
                                              "rootfs.diff_ids[1]"}));
  ASSERT_EQ(d.layers.size(), 1u);
  EXPECT_EQ(d.layers[0].index, 1u);
  ASSERT_EQ(d.layers[0].files.size(), 1u);
  EXPECT_EQ(d.layers[0].files[0].path, "/stamp");
  std::string text = format_text(d);
  EXPECT_NE(text.find("layer 2:"), std::string::npos) << text;
  EXPECT_NE(text.find("changed /stamp: content"), std::string::npos) << text;
  EXPECT_NE(format_json(d).find("\"/stamp\""), std::string::npos);
}

TEST(ImageDiffTest, LayerCountsDiffer) {
  MemoryImage a = image({{file("a")}}), b = image({{file("a")}, {file("b")}});
  ImageDiff d = diff_images(a, b);
  EXPECT_EQ(d.before_layers, 1u);
  EXPECT_EQ(d.after_layers, 2u);
  ASSERT_EQ(d.layers.size(), 1u);
  EXPECT_FALSE(d.layers[0].before);
  EXPECT_NE(format_text(d).find("layer count: 1 -> 2"), std::string::npos) << format_text(d);
}

}  // namespace
}  // namespace mkimg::snapshot
