// `mkimg import` of a busybox root makes an image the peer tools accept: skopeo reads it,
// umoci unpacks it to the same tree, oci-image-tool validates it, and its docker-archive and
// oci-archive round-trip through skopeo.
#include "tests/integration/oci/oci_helpers.h"

namespace mkimg::testing {
namespace {

class ImportedBusybox : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* tool : {"skopeo", "umoci", "oci-image-tool"}) {
      ASSERT_TRUE(have_tool(tool)) << tool << " is missing: run scripts/install-deps.sh";
    }
    make_busybox_root(dir_ / "rootfs");
    auto r = run_mkimg(root(), {"import", (dir_ / "rootfs").string(), "app:v1"});
    ASSERT_EQ(r.exit_code, 0) << r.all();
    digest_ = last_line(r.out);
  }
  fs::path root() const { return dir_ / "store"; }

  TempDir dir_;
  std::string digest_;
};

TEST_F(ImportedBusybox, SkopeoInspectsItByItsShortName) {
  auto r = run({"skopeo", "inspect", "oci:" + (root() / "oci").string() + ":app:v1"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["Digest"], digest_);
  EXPECT_EQ(j["Os"], "linux");
  EXPECT_EQ(j["Layers"].size(), 1u);
}

TEST_F(ImportedBusybox, UmociUnpacksTheSameTree) {
  fs::path bundle = dir_ / "bundle";
  auto r = run({"umoci", "raw", "unpack", "--image", (root() / "oci").string() + ":app:v1",
                bundle.string()});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(tree_listing(bundle), tree_listing(dir_ / "rootfs"));
  EXPECT_EQ(run({"diff", "-r", "--no-dereference", (dir_ / "rootfs").string(), bundle.string()})
                .exit_code,
            0);
}

TEST_F(ImportedBusybox, OciImageToolValidatesTheLayout) {
  auto r = run({"oci-image-tool", "validate", "--type", "image", "--ref", "name=app:v1",
                (root() / "oci").string()});
  EXPECT_EQ(r.exit_code, 0) << r.all();
}

TEST_F(ImportedBusybox, DockerArchiveRoundTripsThroughSkopeo) {
  fs::path archive = dir_ / "app.tar";
  auto save = run_mkimg(root(), {"save", "app:v1", "-o", archive.string()});
  ASSERT_EQ(save.exit_code, 0) << save.all();
  EXPECT_EQ(fs::status(archive).permissions(), fs::perms(0644)) << "as docker save leaves it";
  auto inspect = run({"skopeo", "inspect", "docker-archive:" + archive.string()});
  ASSERT_EQ(inspect.exit_code, 0) << inspect.all();
  EXPECT_EQ(nlohmann::json::parse(inspect.out)["Layers"].size(), 1u);
  fs::path copied = dir_ / "copied";
  auto copy = run({"skopeo", "copy", "docker-archive:" + archive.string(),
                   "docker-archive:" + copied.string() + ":again/app:v2"});
  ASSERT_EQ(copy.exit_code, 0) << copy.all();
  auto load = run_mkimg(dir_ / "other-store", {"load", "-i", copied.string()});
  ASSERT_EQ(load.exit_code, 0) << load.all();
  EXPECT_NE(load.out.find("Loaded image: again/app:v2"), std::string::npos) << load.out;
  auto a = run_mkimg(root(), {"inspect", "app:v1"});
  auto b = run_mkimg(dir_ / "other-store", {"inspect", "again/app:v2"});
  ASSERT_EQ(b.exit_code, 0) << b.all();
  auto diff_ids = [](const std::string& out) {
    return nlohmann::json::parse(out)[0]["Config"]["rootfs"]["diff_ids"];
  };
  EXPECT_EQ(diff_ids(a.out), diff_ids(b.out));
}

TEST_F(ImportedBusybox, OciArchiveIsReadBySkopeoAndLoadsBack) {
  fs::path archive = dir_ / "app-oci.tar";
  auto save = run_mkimg(root(), {"save", "--format", "oci", "app:v1", "-o", archive.string()});
  ASSERT_EQ(save.exit_code, 0) << save.all();
  auto inspect = run({"skopeo", "inspect", "oci-archive:" + archive.string() + ":app:v1"});
  ASSERT_EQ(inspect.exit_code, 0) << inspect.all();
  EXPECT_EQ(nlohmann::json::parse(inspect.out)["Digest"], digest_);
  auto load = run_mkimg(dir_ / "other-store", {"load", "-i", archive.string()});
  ASSERT_EQ(load.exit_code, 0) << load.all();
  auto images = images_json(dir_ / "other-store");
  ASSERT_EQ(images.size(), 1u);
  EXPECT_EQ(images[0]["digest"], digest_);
}

TEST_F(ImportedBusybox, PullFromAnOciLayoutWrittenBySkopeo) {
  fs::path layout = dir_ / "layout";
  auto copy = run({"skopeo", "copy", "oci:" + (root() / "oci").string() + ":app:v1",
                   "oci:" + layout.string() + ":team/copy:v3"});
  ASSERT_EQ(copy.exit_code, 0) << copy.all();
  auto pull = run_mkimg(dir_ / "other-store", {"pull", "oci:" + layout.string() + ":team/copy:v3"});
  ASSERT_EQ(pull.exit_code, 0) << pull.all();
  EXPECT_EQ(image_names(dir_ / "other-store"), std::vector<std::string>{"team/copy:v3"});
  EXPECT_TRUE(corrupt_blobs(dir_ / "other-store").empty());
}

TEST_F(ImportedBusybox, HistoryTagRmiAndPrune) {
  auto history = run_mkimg(root(), {"history", "app:v1"});
  ASSERT_EQ(history.exit_code, 0) << history.all();
  EXPECT_NE(history.out.find("mkimg import"), std::string::npos) << history.out;
  ASSERT_EQ(run_mkimg(root(), {"tag", "app:v1", "app:v2"}).exit_code, 0);
  EXPECT_EQ(image_names(root()), (std::vector<std::string>{"app:v1", "app:v2"}));
  ASSERT_EQ(run_mkimg(root(), {"rmi", "app:v1"}).exit_code, 0);
  EXPECT_EQ(image_names(root()), std::vector<std::string>{"app:v2"});
  ASSERT_EQ(run_mkimg(root(), {"prune"}).exit_code, 0);
  EXPECT_EQ(run_mkimg(root(), {"inspect", "app:v2"}).exit_code, 0);
  ASSERT_EQ(run_mkimg(root(), {"rmi", "app:v2"}).exit_code, 0);
  auto prune = run_mkimg(root(), {"prune"});
  ASSERT_EQ(prune.exit_code, 0) << prune.all();
  EXPECT_TRUE(fs::is_empty(root() / "oci/blobs/sha256"));
}

// Tar names are bytes: a tree whose names are UTF-8 beyond ASCII, or not UTF-8 at all, imports
// (it failed with "Can't translate pathname ... to UTF-8") and umoci, which reads tar as
// Docker does, unpacks exactly those names.
TEST(ImportNonAscii, UmociUnpacksTheNamesByteForByte) {
  ASSERT_TRUE(have_tool("umoci")) << "umoci is missing: run scripts/install-deps.sh";
  TempDir dir;
  fs::path rootfs = dir / "rootfs";
  make_busybox_root(rootfs);
  auto made = run({"sh", "-c",
                   "cd \"$1\" && echo a > café && mkdir 日本語 && echo b > 日本語/😀 && "
                   "echo c > \"$(printf 'raw-\\377\\376')\" && ln -s café lien-é && "
                   "ln 日本語/😀 emoji-hardlink",
                   "sh", rootfs.string()});
  ASSERT_EQ(made.exit_code, 0) << made.all();
  auto r = run_mkimg(dir / "store", {"import", rootfs.string(), "names:v1"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  fs::path bundle = dir / "bundle";
  auto unpack = run({"umoci", "raw", "unpack", "--image",
                     (dir / "store/oci").string() + ":names:v1", bundle.string()});
  ASSERT_EQ(unpack.exit_code, 0) << unpack.all();
  EXPECT_EQ(tree_listing(bundle), tree_listing(rootfs));
  EXPECT_TRUE(fs::exists(bundle / "raw-\xff\xfe"));
  EXPECT_EQ(fs::read_symlink(bundle / "lien-é"), "café");
}

}  // namespace
}  // namespace mkimg::testing
