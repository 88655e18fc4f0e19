// Bad input gets a clear "mkimg: error: ..." and exit 1, and leaves the store as it was:
// malformed references, missing files, corrupt or truncated archives, a blob whose digest
// does not match.
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "tests/integration/oci/oci_helpers.h"

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
  void expect_error(const std::vector<std::string>& args, const std::string& message) {
    auto r = run_mkimg(root(), args);
    EXPECT_EQ(r.exit_code, 1) << r.all();
    EXPECT_EQ(r.err.rfind("mkimg: error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
    EXPECT_EQ(image_names(root()), std::vector<std::string>{"good:v1"});
    EXPECT_TRUE(corrupt_blobs(root()).empty());
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

}  // namespace
}  // namespace mkimg::testing
