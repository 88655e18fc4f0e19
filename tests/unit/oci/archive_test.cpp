// Archives written by save_archive() load back through load_archive(), verified.
#include "oci/archive.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "oci/media_types.h"
#include "oci/store.h"
#include "oci/transport.h"

using namespace mkimg::oci;
namespace fs = std::filesystem;

namespace {

// A one-file tar (512-byte header + data padded + two zero blocks), enough to be a layer.
std::string tiny_tar(const std::string& name, const std::string& content) {
  std::string h(512, '\0');
  name.copy(h.data(), name.size());
  std::snprintf(h.data() + 100, 8, "%07o", 0644);
  std::snprintf(h.data() + 108, 8, "%07o", 0);
  std::snprintf(h.data() + 116, 8, "%07o", 0);
  std::snprintf(h.data() + 124, 12, "%011o", static_cast<unsigned>(content.size()));
  std::snprintf(h.data() + 136, 12, "%011o", 0);
  h[156] = '0';
  std::memcpy(h.data() + 257, "ustar", 6);
  std::memcpy(h.data() + 263, "00", 2);
  std::memset(h.data() + 148, ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  std::snprintf(h.data() + 148, 8, "%06o", sum);
  std::string body = content + std::string((512 - content.size() % 512) % 512, '\0');
  return h + body + std::string(1024, '\0');
}

std::string gzip(const std::string& data) {
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, data.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

class ArchiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "mkimg-archive-XXXXXX").string();
    dir_ = ::mkdtemp(tmpl.data());
  }
  void TearDown() override { fs::remove_all(dir_); }

  Descriptor make_image(const Store& store, bool compressed) {
    std::string tar = tiny_tar("hello.txt", "hello world\n");
    Descriptor layer = compressed ? store.put_blob(gzip(tar), media_type::kOciLayerGzip)
                                  : store.put_blob(tar, media_type::kOciLayer);
    ImageConfig config;
    config.architecture = host_platform().architecture;
    config.os = "linux";
    config.rootfs.diff_ids = {sha256_of(tar)};
    return write_image(store, config, {layer});
  }

  fs::path dir_;
};

}  // namespace

TEST_F(ArchiveTest, OciArchiveRoundTripKeepsTheManifestDigest) {
  Store a = Store::open(dir_ / "a");
  Descriptor m = make_image(a, true);
  Reference name = Reference::parse("team/app:v1");
  a.tag(name, m);
  save_archive(a, {{.manifest = m, .names = {name}}}, dir_ / "x.tar", ArchiveFormat::kOci);
  Store b = Store::open(dir_ / "b");
  auto loaded = load_archive(b, dir_ / "x.tar");
  ASSERT_EQ(loaded.size(), 1u);
  EXPECT_EQ(loaded[0].manifest.digest, m.digest);
  EXPECT_EQ(b.resolve("team/app:v1")->digest, m.digest);
}

TEST_F(ArchiveTest, DockerArchiveHoldsUncompressedLayersThatMatchDiffIds) {
  Store a = Store::open(dir_ / "a");
  Descriptor m = make_image(a, true);
  Reference name = Reference::parse("app:v1");
  save_archive(a, {{.manifest = m, .names = {name}}}, dir_ / "x.tar", ArchiveFormat::kDocker);
  Store b = Store::open(dir_ / "b");
  auto loaded = load_archive(b, dir_ / "x.tar");
  ASSERT_EQ(loaded.size(), 1u);
  Image image = load_image(b, "app:v1");
  EXPECT_EQ(image.manifest.layers[0].media_type, media_type::kOciLayer);
  EXPECT_EQ(image.manifest.layers[0].digest, image.config.rootfs.diff_ids[0]);
  EXPECT_EQ(image.config, load_image(a, m).config);
}

TEST_F(ArchiveTest, SaveToAnUnwritablePlaceLeavesNoFile) {
  Store a = Store::open(dir_ / "a");
  Descriptor m = make_image(a, false);
  EXPECT_THROW(save_archive(a, {{.manifest = m}}, dir_ / "no/such/dir/x.tar", ArchiveFormat::kOci),
               mkimg::Error);
}

TEST_F(ArchiveTest, PullFromAnOciLayoutDirectoryVerifiesAndCopies) {
  Store a = Store::open(dir_ / "a");
  Descriptor m = make_image(a, false);
  a.tag(Reference::parse("app:v1"), m);
  Store b = Store::open(dir_ / "b");
  auto source = open_source("oci:" + a.layout_dir().string() + ":app:v1", b);
  EXPECT_EQ(pull(b, *source).digest, m.digest);
  ASSERT_EQ(source->names().size(), 1u);
  EXPECT_EQ(source->names()[0].familiar(), "app:v1");
  EXPECT_THROW(open_source("oci:" + a.layout_dir().string() + ":app:v2", b)->resolve(),
               mkimg::Error);
}
