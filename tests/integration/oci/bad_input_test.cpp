// Bad input gets a clear "mkimg: error: ..." and exit 1, and leaves the store as it was:
// malformed references, missing files, corrupt or truncated archives, a blob whose digest
// does not match, a layer whose bytes are not what its media type says.
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "oci/media_types.h"
#include "oci/store.h"
#include "tests/integration/oci/oci_helpers.h"
#include "tests/support/registry_fixture.h"
#include "tests/support/tar_builder.h"

namespace mkimg::testing {
namespace {

class BadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    make_busybox_root(dir_ / "rootfs");
    auto r = run_mkimg(root(), {"import", (dir_ / "rootfs").string(), "good:v1"});
    ASSERT_EQ(r.exit_code, 0) << r.all();
  }
  fs::path root() const { return dir_ / "store"; }

  /// Runs mkimg, expects exit 1 with `message` in stderr, and the store unchanged.
  void expect_error(const std::vector<std::string>& args, const std::string& message,
                    const std::string& input = "") {
    auto r = run_mkimg(root(), args, {}, input);
    EXPECT_EQ(r.exit_code, 1) << r.all();
    EXPECT_EQ(r.err.rfind("mkimg: error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
    EXPECT_EQ(image_names(root()), std::vector<std::string>{"good:v1"});
    EXPECT_TRUE(corrupt_blobs(root()).empty());
  }

  /// The layer of good:v1 in three forms: gzip (as imported), the tar inside, zstd.
  struct LayerForms {
    std::string gzip, tar, zstd;
  };
  LayerForms layer_forms() {
    oci::Store store = oci::Store::open(root());
    fs::path blob = store.blob_path(oci::load_image(store, "good:v1").manifest.layers.at(0).digest);
    fs::path tar = dir_ / "layer.tar", zst = dir_ / "layer.tar.zst";
    auto r = run({"sh", "-c",
                  "gzip -dc '" + blob.string() + "' > '" + tar.string() + "' && zstd -q -f '" +
                      tar.string() + "' -o '" + zst.string() + "'"});
    EXPECT_EQ(r.exit_code, 0) << r.all();
    return {read_file(blob), read_file(tar), read_file(zst)};
  }

  /// good:v1 again, its layer `bytes` labelled `type`, tagged mis:v1 in a store of its own at
  /// dir_/name (whose oci/ is an OCI layout). Returns the layer's descriptor.
  oci::Descriptor mislabelled(const std::string& name, const std::string& bytes,
                              std::string_view type) {
    oci::ImageConfig config = oci::load_image(oci::Store::open(root()), "good:v1").config;
    oci::Store store = oci::Store::open(dir_ / name);
    oci::Descriptor layer = store.put_blob(bytes, type);
    store.tag(oci::Reference::parse("mis:v1"), oci::write_image(store, config, {layer}));
    return layer;
  }

  /// An oci-archive of the layout in store dir_/name.
  fs::path archive_of(const std::string& name) {
    fs::path file = dir_ / (name + ".tar");
    auto r = run({"tar", "-C", (dir_ / name / "oci").string(), "-cf", file.string(), "oci-layout",
                  "index.json", "blobs"});
    EXPECT_EQ(r.exit_code, 0) << r.all();
    return file;
  }

  /// good:v1's config over one gzip layer of `tar`, tagged bomb:v1 in a store at dir_/name.
  oci::Descriptor bomb(const std::string& name, const std::string& tar) {
    oci::ImageConfig config = oci::load_image(oci::Store::open(root()), "good:v1").config;
    config.rootfs.diff_ids = {oci::sha256_of(tar)};
    oci::Store store = oci::Store::open(dir_ / name);
    oci::Descriptor layer =
        store.put_blob(snapshot::testing::gzip(tar), oci::media_type::kOciLayerGzip);
    store.tag(oci::Reference::parse("bomb:v1"), oci::write_image(store, config, {layer}));
    return layer;
  }

  fs::path save(const std::string& format) {
    fs::path file = dir_ / ("saved-" + format + ".tar");
    auto r = run_mkimg(root(), {"save", "--format", format, "good:v1", "-o", file.string()});
    EXPECT_EQ(r.exit_code, 0) << r.all();
    return file;
  }

  TempDir dir_;
};

// An output path is written through, never renamed over: a FIFO, a device or a directory is
// refused by name and left as it was; a symlink's target is written and the link stays;
// `-o -` streams to stdout.
TEST_F(BadInput, SaveNeverReplacesWhatIsNotARegularFile) {
  fs::path fifo = dir_ / "fifo", dev = dir_ / "null", sub = dir_ / "sub";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  fs::create_directories(sub);
  if (::geteuid() == 0) {
    ASSERT_EQ(::mknod(dev.c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
  }
  expect_error({"save", "good:v1", "-o", fifo.string()}, "`" + fifo.string() + "`: it is a FIFO");
  EXPECT_TRUE(fs::is_fifo(fifo));
  expect_error({"save", "good:v1", "-o", sub.string()}, "it is a directory");
  if (::geteuid() == 0) {
    expect_error({"save", "good:v1", "-o", dev.string()}, "it is a device");
    EXPECT_TRUE(fs::is_character_file(dev));
  }
  auto to_pipe = run({"sh", "-c",
                      "true | '" + mkimg_binary() + "' --root '" + root().string() +
                          "' save good:v1 -o /proc/self/fd/0"});
  EXPECT_EQ(to_pipe.exit_code, 1) << to_pipe.all();
  EXPECT_NE(to_pipe.err.find("`/proc/self/fd/0`: it is a FIFO"), std::string::npos) << to_pipe.err;

  fs::create_symlink("real.tar", dir_ / "link.tar");
  auto r = run_mkimg(root(), {"save", "good:v1", "-o", (dir_ / "link.tar").string()});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_TRUE(fs::is_symlink(dir_ / "link.tar"));
  EXPECT_GT(fs::file_size(dir_ / "real.tar"), 1000u);

  auto streamed =
      run({"sh", "-c",
           "'" + mkimg_binary() + "' --root '" + root().string() + "' save good:v1 -o - | tar -t"});
  ASSERT_EQ(streamed.exit_code, 0) << streamed.all();
  EXPECT_NE(streamed.out.find("manifest.json"), std::string::npos) << streamed.out;
}

// A blob of an oci: layout that is a FIFO is refused at once, never waited on.
TEST_F(BadInput, AFifoBlobIsRefusedWithoutWaiting) {
  fs::path layout = dir_ / "layout";
  fs::create_directories(layout);
  ASSERT_EQ(run({"tar", "-xf", save("oci").string(), "-C", layout.string()}).exit_code, 0);
  fs::path biggest;
  for (const auto& e : fs::directory_iterator(layout / "blobs/sha256")) {
    if (biggest.empty() || fs::file_size(e.path()) > fs::file_size(biggest)) biggest = e.path();
  }
  fs::remove(biggest);
  ASSERT_EQ(::mkfifo(biggest.c_str(), 0644), 0);
  auto r = run({"timeout", "60", mkimg_binary(), "--root", (dir_ / "other").string(), "pull",
                "oci:" + layout.string()});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_NE(r.err.find(biggest.filename().string()), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("not a regular file"), std::string::npos) << r.err;
}

TEST_F(BadInput, MalformedReferencesAreRefused) {
  expect_error({"import", (dir_ / "rootfs").string(), "Bad Name"}, "parse reference `Bad Name`");
  expect_error({"import", (dir_ / "rootfs").string(), "app:"}, "invalid tag");
  expect_error({"tag", "good:v1", "UPPER:case"}, "must be lowercase");
  expect_error({"pull", "docker-archive:/x.tar:Not/Valid"}, "parse reference");
}

TEST_F(BadInput, MissingFilesAndImagesAreNamed) {
  expect_error({"import", (dir_ / "nope").string(), "app:v1"}, "no such file or directory");
  expect_error({"load", "-i", (dir_ / "nope.tar").string()}, "no such file");
  expect_error({"pull", "oci-archive:" + (dir_ / "nope.tar").string()}, "no such file");
  expect_error({"pull", "oci:" + (dir_ / "nope").string()}, "not a directory");
  expect_error({"inspect", "missing:v1"}, "no such image");
  expect_error({"save", "missing:v1", "-o", (dir_ / "x.tar").string()}, "no such image");
  expect_error({"pull", "bogus:/path"}, "open source `bogus:/path`");
  EXPECT_FALSE(fs::exists(dir_ / "x.tar"));
}

TEST_F(BadInput, TruncatedArchivesAreRefused) {
  for (const char* format : {"docker", "oci"}) {
    fs::path file = save(format);
    std::string bytes = read_file(file);
    write_file(dir_ / "truncated.tar", bytes.substr(0, bytes.size() / 2));
    expect_error({"load", "-i", (dir_ / "truncated.tar").string()}, "load `");
  }
}

TEST_F(BadInput, GarbageIsNotAnArchive) {
  write_file(dir_ / "garbage.tar", std::string(5000, 'x'));
  expect_error({"load", "-i", (dir_ / "garbage.tar").string()}, "load `");
  write_file(dir_ / "empty.tar", "");
  expect_error({"load", "-i", (dir_ / "empty.tar").string()}, "load `");
}

TEST_F(BadInput, ABlobWhoseDigestDoesNotMatchIsRefused) {
  fs::path layout = dir_ / "layout";
  ASSERT_EQ(run({"cp", "-a", (root() / "oci").string(), layout.string()}).exit_code, 0);
  auto manifest =
      nlohmann::json::parse(run_mkimg(root(), {"inspect", "good:v1"}).out)[0]["Manifest"];
  std::string layer = manifest["layers"][0]["digest"].get<std::string>().substr(7);
  fs::path blob = layout / "blobs/sha256" / layer;
  std::string bytes = read_file(blob);
  bytes[bytes.size() / 2] ^= 0x55;
  write_file(blob, bytes);
  fs::path other = dir_ / "other";
  auto r = run_mkimg(other, {"pull", "oci:" + layout.string() + ":good:v1"});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_NE(r.err.find("content has digest"), std::string::npos) << r.err;
  EXPECT_TRUE(image_names(other).empty());
  EXPECT_FALSE(fs::exists(other / "oci/blobs/sha256" / layer));
  EXPECT_TRUE(corrupt_blobs(other).empty());
}

TEST_F(BadInput, ADockerArchiveWithATamperedLayerIsRefused) {
  fs::path file = save("docker");
  fs::path x = dir_ / "x";
  fs::create_directories(x);
  ASSERT_EQ(run({"tar", "-C", x.string(), "-xf", file.string()}).exit_code, 0);
  auto r =
      run({"sh", "-c",
           "cd '" + x.string() +
               "' && f=$(ls */layer.tar | head -1) && printf 'EVIL' | "
               "dd of=\"$f\" bs=1 seek=700 conv=notrunc 2>/dev/null && tar -cf ../tampered.tar *"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  fs::path other = dir_ / "other";
  auto load = run_mkimg(other, {"load", "-i", (dir_ / "tampered.tar").string()});
  EXPECT_EQ(load.exit_code, 1) << load.all();
  EXPECT_NE(load.err.find("diff_id"), std::string::npos) << load.err;
  EXPECT_TRUE(image_names(other).empty());
}

/// The error for a layer whose bytes are `actual` while its media type says `labelled`.
std::string mismatch(const oci::Descriptor& layer, const std::string& labelled,
                     const std::string& actual) {
  return "verify layer `" + layer.digest.str() + "`: its media type `" + layer.media_type +
         "` says " + labelled + ", but its bytes are " + actual;
}

// A layer's media type must say what its bytes are (docs/security.md 32): skopeo and umoci
// trust the type and refuse a store where it lies. Refused from an oci: layout (whose gzip
// layer the store already holds, so the copy is skipped but the check is not), an
// oci-archive, and `load`.
TEST_F(BadInput, ALayerWhoseBytesAreNotItsMediaTypeIsRefused) {
  LayerForms forms = layer_forms();
  namespace mt = oci::media_type;
  oci::Descriptor gzip_as_zstd = mislabelled("a", forms.gzip, mt::kOciLayerZstd);
  expect_error({"pull", "-q", "oci:" + (dir_ / "a/oci").string() + ":mis:v1"},
               mismatch(gzip_as_zstd, "zstd", "gzip"));
  oci::Descriptor tar_as_gzip = mislabelled("b", forms.tar, mt::kOciLayerGzip);
  expect_error({"pull", "-q", "oci-archive:" + archive_of("b").string() + ":mis:v1"},
               mismatch(tar_as_gzip, "gzip", "uncompressed"));
  oci::Descriptor zstd_as_gzip = mislabelled("c", forms.zstd, mt::kDockerLayerGzip);
  expect_error({"load", "-i", archive_of("c").string()}, mismatch(zstd_as_gzip, "gzip", "zstd"));
  // Labelled right, the same bytes come in.
  mislabelled("e", forms.zstd, mt::kOciLayerZstd);
  auto r = run_mkimg(root(), {"pull", "oci:" + (dir_ / "e/oci").string() + ":mis:v1"});
  EXPECT_EQ(r.exit_code, 0) << r.all();
}

// The same from a registry: `mkimg pull`, and a build's base, from an oci: layout and from
// the registry (the build pulls through the registry's own path).
TEST_F(BadInput, AMislabelledLayerFromARegistryOrAsABaseIsRefused) {
  Registry reg(RegistryMode::kHttp);
  oci::Descriptor layer = mislabelled("a", layer_forms().gzip, oci::media_type::kOciLayerZstd);
  std::string dest = reg.host() + "/mis:v1";
  auto push = run_mkimg(dir_ / "a", {"push", "mis:v1", dest});
  ASSERT_EQ(push.exit_code, 0) << push.all();
  std::string expected = mismatch(layer, "zstd", "gzip");
  expect_error({"pull", "-q", dest}, expected);
  write_file(dir_ / "ctx/keep", "");
  for (const std::string& base : {dest, "oci:" + (dir_ / "a/oci").string() + ":mis:v1"}) {
    expect_error(
        {"build", "--progress", "quiet", "-t", "built:v1", "-f", "-", (dir_ / "ctx").string()},
        expected, "FROM " + base + "\nLABEL x=y\n");
  }
}

/// The entries of <root>/layers (unpacked layers and any leftover of an unpack).
std::set<std::string> layer_dirs(const fs::path& root) {
  std::set<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root / "layers", ec)) {
    out.insert(e.path().filename().string());
  }
  return out;
}

// A layer may uncompress to --max-layer-size ($MKIMG_MAX_LAYER_SIZE) at most (docs/security.md
// 12). A gzip bomb (32 MiB of zeros in 1 MiB files, 32 KiB gzipped) against a 4 MiB cap fails
// at the FROM that unpacks it, naming the layer and the cap. The store is on a 12 MiB tmpfs:
// an unpack that wrote the whole layer before failing would run out of space instead. No layer
// directory is left, not even a half one. A single file larger than the cap is refused from its
// header, naming it. Under a higher cap the layer unpacks.
// A full disk is named as such, with the path that did not fit: an archive that does not fit
// where it is saved (libarchive said only "Write error"), a store that fills up while a layer
// is imported. Nothing half-written stays behind.
TEST_F(BadInput, AFullDiskIsNamedWithThePath) {
  fs::path full = dir_ / "full";
  fs::create_directories(full);
  ASSERT_EQ(::mount("tmpfs", full.c_str(), "tmpfs", 0, "size=1m"), 0) << std::strerror(errno);
  struct Unmount {
    fs::path p;
    ~Unmount() { ::umount2(p.c_str(), MNT_DETACH); }
  } unmount{full};
  fs::path out = full / "out.tar";
  auto saved = run_mkimg(root(), {"save", "--format", "docker", "-o", out.string(), "good:v1"});
  EXPECT_NE(saved.exit_code, 0) << saved.all();
  EXPECT_NE(saved.err.find("`" + out.string() + "`"), std::string::npos) << saved.err;
  EXPECT_NE(saved.err.find("No space left on device"), std::string::npos) << saved.err;
  EXPECT_TRUE(fs::is_empty(full)) << "the archive's temp file is removed";
  auto imported = run_mkimg(full / "store", {"import", (dir_ / "rootfs").string(), "big:v1"});
  EXPECT_NE(imported.exit_code, 0) << imported.all();
  EXPECT_NE(imported.err.find((full / "store").string()), std::string::npos) << imported.err;
  EXPECT_NE(imported.err.find("No space left on device"), std::string::npos) << imported.err;
}

TEST_F(BadInput, ALayerLargerThanTheCapStopsUnpackingAndLeavesNothing) {
  namespace tb = snapshot::testing;
  std::vector<tb::TarEntry> files;
  for (int i = 10; i < 42; ++i)
    files.push_back(tb::file("z/" + std::to_string(i), std::string(1 << 20, '\0')));
  std::string many = tb::make_tar(files);
  std::string one = tb::make_tar({tb::file("zeros", std::string(32 << 20, '\0'))});
  oci::Descriptor many_layer = bomb("many", many), one_layer = bomb("one", one);
  ASSERT_LT(many_layer.size, 1 << 20);
  fs::path small = dir_ / "small";
  fs::create_directories(small);
  ASSERT_EQ(::mount("tmpfs", small.c_str(), "tmpfs", 0, "size=12m"), 0) << std::strerror(errno);
  write_file(dir_ / "ctx/keep", "");
  // WORKDIR needs the root file system: the base is unpacked for it (not at FROM).
  auto build = [&](const fs::path& root, const std::string& image,
                   const std::vector<std::string>& global, const std::string& env_cap) {
    std::vector<std::string> args = global;
    args.insert(args.end(), {"build", "--progress", "quiet", "-t", "built:v1", "-f", "-",
                             (dir_ / "ctx").string()});
    return run_mkimg(root, args, {{"MKIMG_MAX_LAYER_SIZE", env_cap}},
                     "FROM oci:" + (dir_ / image / "oci").string() + ":bomb:v1\nWORKDIR /z\n");
  };

  auto r = build(small, "many", {}, "4MiB");
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_NE(
      r.err.find("mkimg: error: Dockerfile:2: unpack layer `" + many_layer.digest.str() + "`"),
      std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("the uncompressed layer is larger than the limit of 4194304 bytes"),
            std::string::npos)
      << r.err;
  EXPECT_TRUE(layer_dirs(small).empty());
  EXPECT_TRUE(image_names(small).empty());

  r = build(small, "one", {"--max-layer-size", "4m"}, "64MiB");
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_NE(r.err.find("unpack layer `" + one_layer.digest.str() + "`"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("apply `zeros`: its size 33554432 is larger than the limit of 4194304"),
            std::string::npos)
      << r.err;
  EXPECT_TRUE(layer_dirs(small).empty());
  ::umount2(small.c_str(), MNT_DETACH);

  std::set<std::string> before = layer_dirs(root());
  r = build(root(), "many", {"--max-layer-size", "64MiB"}, "4MiB");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  // The base's layer and WORKDIR's (empty, as BuildKit makes one for every WORKDIR but /).
  EXPECT_EQ(layer_dirs(root()).size(), before.size() + 2);
  std::string chain(oci::sha256_of(many).encoded());
  EXPECT_EQ(fs::file_size(root() / "layers" / chain / "z/41"), 1u << 20);
}

}  // namespace
}  // namespace mkimg::testing
