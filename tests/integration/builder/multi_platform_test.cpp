// `build --platform a,b`: one build, one image per platform, one OCI image index over them
// (tag -> index -> manifests), in the store, an OCI layout, an oci-archive, local files and a
// registry; read back by skopeo (--override-arch) and oci-image-tool; a base that is itself a
// multi-platform index gives each platform its own manifest. The Dockerfiles here run nothing
// (no emulation needed): what differs per platform comes from TARGETARCH.
#include <nlohmann/json.hpp>

#include "tests/support/builder_fixture.h"
#include "tests/support/registry_fixture.h"

namespace mkimg::testing {
namespace {

using json = nlohmann::json;

/// A file and a label named after the target architecture.
const char* const kPerArch =
    "FROM scratch\n"
    "ARG TARGETARCH TARGETPLATFORM BUILDPLATFORM\n"
    "COPY a.txt /a-$TARGETARCH\n"
    "LABEL arch=$TARGETARCH target=$TARGETPLATFORM build=$BUILDPLATFORM\n";

class MultiPlatformTest : public BuilderTest {
 protected:
  void SetUp() override {
    BuilderTest::SetUp();
    if (IsSkipped()) return;
    write_file(dir("ctx") / "Dockerfile", kPerArch);
    write_file(dir("ctx") / "a.txt", "hello\n");
  }

  /// `skopeo inspect --raw` of `transport_ref`, parsed.
  static json raw(const std::string& transport_ref, std::vector<std::string> flags = {}) {
    std::vector<std::string> args{"skopeo", "inspect", "--raw"};
    args.insert(args.end(), flags.begin(), flags.end());
    args.push_back(transport_ref);
    auto r = run(args);
    EXPECT_EQ(r.exit_code, 0) << r.all();
    return r.exit_code == 0 ? json::parse(r.out) : json::object();
  }

  /// `skopeo inspect --override-arch ARCH` of `transport_ref` (the image config skopeo picks
  /// from the index for that architecture), parsed.
  static json inspect_arch(const std::string& transport_ref, const std::string& arch,
                           std::vector<std::string> flags = {}) {
    std::vector<std::string> args{"skopeo", "--override-arch", arch, "inspect"};
    args.insert(args.end(), flags.begin(), flags.end());
    args.push_back(transport_ref);
    auto r = run(args);
    EXPECT_EQ(r.exit_code, 0) << r.all();
    return r.exit_code == 0 ? json::parse(r.out) : json::object();
  }

  /// The platforms an index lists, "os/arch", in order.
  static std::vector<std::string> platforms(const json& index) {
    std::vector<std::string> out;
    for (const auto& m : index.value("manifests", json::array())) {
      out.push_back(m["platform"]["os"].get<std::string>() + "/" +
                    m["platform"]["architecture"].get<std::string>());
    }
    return out;
  }

  std::string layout_ref(const std::string& tag) const {
    return "oci:" + (store() / "oci").string() + ":" + tag;
  }
};

const std::vector<std::string> kTwo{"linux/amd64", "linux/arm64"};

TEST_F(MultiPlatformTest, TwoPlatformsMakeOneIndexTaggedInTheStore) {
  auto r = build(dir("ctx"), {"--platform", "linux/amd64,linux/arm64", "-t", "mp:1"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  // Progress names each platform's steps (buildx's `[linux/arm64 2/3]`).
  EXPECT_NE(r.err.find("[linux/arm64 3/4] COPY a.txt"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("[linux/amd64 3/4] COPY a.txt"), std::string::npos) << r.err;
  json index = raw(layout_ref("mp:1"));
  EXPECT_EQ(index.value("mediaType", ""), "application/vnd.oci.image.index.v1+json");
  EXPECT_EQ(platforms(index), kTwo) << index.dump();
  // The image id printed is the index digest, as buildx's for a manifest list.
  std::string digest = index["manifests"][0]["digest"];
  EXPECT_EQ(image_id(r).rfind("sha256:", 0), 0u) << r.out;
  for (const std::string arch : {"amd64", "arm64"}) {
    json config = inspect_arch(layout_ref("mp:1"), arch);
    EXPECT_EQ(config.value("Architecture", ""), arch);
    EXPECT_EQ(config["Labels"].value("arch", ""), arch) << config.dump();
    EXPECT_EQ(config["Labels"].value("target", ""), "linux/" + arch);
    EXPECT_EQ(config["Labels"].value("build", ""), "linux/amd64");
  }
  auto check = run({"oci-image-tool", "validate", "--type", "image", "--ref", "name=mp:1",
                    (store() / "oci").string()});
  EXPECT_EQ(check.exit_code, 0) << check.all();
}

TEST_F(MultiPlatformTest, EachPlatformsImageIsTheOneASinglePlatformBuildMakes) {
  auto both = run_mkimg(store(),
                        {"build", "--progress", "plain", "--platform", "linux/amd64,linux/arm64",
                         "-t", "mp:1", dir("ctx").string()},
                        {{"SOURCE_DATE_EPOCH", "0"}});
  ASSERT_EQ(both.exit_code, 0) << both.all();
  // Rebuilt, every step is cached and the index is the same.
  auto again = run_mkimg(store(),
                         {"build", "--progress", "plain", "--platform", "linux/amd64,linux/arm64",
                          "-t", "mp:2", dir("ctx").string()},
                         {{"SOURCE_DATE_EPOCH", "0"}});
  ASSERT_EQ(again.exit_code, 0) << again.all();
  EXPECT_EQ(count(again.err, "CACHED"), 2) << again.err;
  EXPECT_EQ(image_id(again), image_id(both));
  // One platform alone hits the same cache entry and makes the index's manifest for it.
  auto arm = run_mkimg(store(),
                       {"build", "--progress", "plain", "--platform", "linux/arm64", "-t", "arm:1",
                        dir("ctx").string()},
                       {{"SOURCE_DATE_EPOCH", "0"}});
  ASSERT_EQ(arm.exit_code, 0) << arm.all();
  EXPECT_EQ(count(arm.err, "CACHED"), 1) << arm.err;
  json index = raw(layout_ref("mp:1"));
  json arm_manifest = raw(layout_ref("arm:1"));
  ASSERT_EQ(platforms(index), kTwo);
  auto manifest_digest = run({"skopeo", "inspect", "--format", "{{.Digest}}", layout_ref("arm:1")});
  EXPECT_EQ(manifest_digest.out, index["manifests"][1]["digest"].get<std::string>() + "\n")
      << index.dump() << "\n"
      << arm_manifest.dump();
  // And --no-cache gives the same bytes.
  auto fresh = run_mkimg(store(),
                         {"build", "--progress", "plain", "--no-cache", "--platform",
                          "linux/amd64,linux/arm64", dir("ctx").string()},
                         {{"SOURCE_DATE_EPOCH", "0"}});
  ASSERT_EQ(fresh.exit_code, 0) << fresh.all();
  EXPECT_EQ(image_id(fresh), image_id(both));
}

TEST_F(MultiPlatformTest, OciLayoutArchiveAndLocalOutputsCarryEveryPlatform) {
  fs::path layout = dir("layout");
  fs::path archive = dir("image.tar");
  fs::path files = dir("files");
  auto r = build(
      dir("ctx"),
      {"--platform", "linux/amd64,linux/arm64", "-o", "type=oci,dest=" + layout.string(), "-o",
       "type=oci-archive,dest=" + archive.string(), "-o", "type=local,dest=" + files.string()});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  auto check = run(
      {"oci-image-tool", "validate", "--type", "image", "--ref", "name=latest", layout.string()});
  EXPECT_EQ(check.exit_code, 0) << check.all();
  EXPECT_EQ(platforms(raw("oci:" + layout.string() + ":latest")), kTwo);
  EXPECT_EQ(inspect_arch("oci:" + layout.string() + ":latest", "arm64").value("Architecture", ""),
            "arm64");
  EXPECT_EQ(platforms(raw("oci-archive:" + archive.string())), kTwo);
  // As buildx: one directory per platform, os_arch.
  EXPECT_EQ(read_file(files / "linux_amd64" / "a-amd64"), "hello\n");
  EXPECT_EQ(read_file(files / "linux_arm64" / "a-arm64"), "hello\n");
  EXPECT_FALSE(fs::exists(files / "linux_arm64" / "a-amd64"));
}

TEST_F(MultiPlatformTest, PushSendsTheIndexAndAFreshStoreBuildsOnItPerPlatform) {
  Registry registry(RegistryMode::kHttp);
  std::string name = registry.host() + "/mp:1";
  auto r = build(dir("ctx"), {"--platform", "linux/amd64,linux/arm64", "-t", name, "--push"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  json index = raw("docker://" + name, {"--tls-verify=false"});
  EXPECT_EQ(platforms(index), kTwo) << index.dump();
  EXPECT_EQ(
      inspect_arch("docker://" + name, "arm64", {"--tls-verify=false"})["Labels"].value("arch", ""),
      "arm64");
  // A build in another store FROM the pushed index: each platform pulls and gets its own
  // manifest (the second pull finds the index already there without its platform's image).
  write_file(dir("on") / "Dockerfile", "FROM " + name + "\nLABEL second=yes\n");
  auto other = run_mkimg(dir("other-store"),
                         {"build", "--progress", "plain", "--platform", "linux/amd64,linux/arm64",
                          "-t", "on:1", "--jobs", "1", dir("on").string()});
  ASSERT_EQ(other.exit_code, 0) << other.all();
  std::string other_ref = "oci:" + (dir("other-store") / "oci").string() + ":on:1";
  for (const std::string arch : {"amd64", "arm64"}) {
    json config = inspect_arch(other_ref, arch);
    EXPECT_EQ(config["Labels"].value("arch", ""), arch) << config.dump();
    EXPECT_EQ(config["Labels"].value("second", ""), "yes");
  }
  // A base in the store that is an index gives each platform its manifest too.
  auto local = build(dir("on"), {"--platform", "linux/arm64,linux/amd64", "-t", "on:2"});
  ASSERT_EQ(local.exit_code, 0) << local.all();
  EXPECT_EQ(platforms(raw(layout_ref("on:2"))),
            (std::vector<std::string>{"linux/arm64", "linux/amd64"}));
}

TEST_F(MultiPlatformTest, OutputsOfOnePlatformAndBadListsAreRefusedNamingTheFix) {
  struct Case {
    std::vector<std::string> flags;
    std::string says;
  };
  std::vector<Case> cases = {
      {{"--platform", "linux/amd64,linux/arm64", "-o", "type=docker,dest=" + dir("d.tar").string()},
       "a docker archive holds one platform"},
      {{"--platform", "linux/amd64,linux/arm64", "-o", "type=tar,dest=" + dir("t.tar").string()},
       "type=tar writes one platform"},
      {{"--platform", "linux/amd64,linux/amd64"}, "linux/amd64 is given twice"},
      {{"--platform", "linux/amd64,arm64"}, "arm64"},
      {{"--platform", "linux/amd64,"}, "expected os/arch"},
  };
  for (const auto& c : cases) {
    auto r = build(dir("ctx"), c.flags);
    EXPECT_NE(r.exit_code, 0) << c.says;
    EXPECT_NE(r.err.find("mkimg: error:"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << c.says << "\n" << r.err;
    EXPECT_EQ(r.err.find("COPY a.txt"), std::string::npos) << "the build ran\n" << r.err;
  }
  EXPECT_FALSE(fs::exists(dir("d.tar")));
}

TEST_F(MultiPlatformTest, AFailingPlatformFailsTheBuildNamingItAndTagsNothing) {
  write_file(dir("bad") / "Dockerfile", "FROM scratch\nARG TARGETARCH\nCOPY only-$TARGETARCH /x\n");
  write_file(dir("bad") / "only-amd64", "x");
  auto r = build(dir("bad"), {"--platform", "linux/amd64,linux/arm64", "-t", "bad:1"});
  EXPECT_NE(r.exit_code, 0) << r.all();
  EXPECT_NE(r.err.find("linux/arm64"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("only-arm64"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Dockerfile:3"), std::string::npos) << r.err;
  auto images = run_mkimg(store(), {"images"});
  EXPECT_EQ(images.out.find("bad"), std::string::npos) << images.out;
}

}  // namespace
}  // namespace mkimg::testing
