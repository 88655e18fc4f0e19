// `build --metadata-file`: the JSON buildx writes for the next CI step (digests, descriptor,
// names), only after a build that succeeded, also when the image is only pushed.
#include <nlohmann/json.hpp>

#include "common/ascii.h"
#include "tests/support/builder_fixture.h"
#include "tests/support/registry_fixture.h"

namespace mkimg::testing {
namespace {

const char* const kDockerfile = kTwoStagesWithRandomIds;

class BuildMetadataTest : public BuilderTest {
 protected:
  void SetUp() override {
    BuilderTest::SetUp();
    if (IsSkipped()) return;
    write_file(dir("ctx") / "Dockerfile", kDockerfile);
  }

  nlohmann::json inspect(const std::string& image) {
    auto r = run_mkimg(store(), {"inspect", image});
    EXPECT_EQ(r.exit_code, 0) << r.all();
    return nlohmann::json::parse(r.out).at(0);
  }
};

TEST_F(BuildMetadataTest, MetadataFileHasTheDigestsAndNamesOfTheBuiltImage) {
  fs::path meta = dir("out") / "metadata.json";
  fs::create_directories(meta.parent_path());
  auto r = build(dir("ctx"), {"-t", "meta:1", "-t", "example.com/team/meta:2", "--metadata-file",
                              meta.string()});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  ASSERT_TRUE(fs::exists(meta)) << r.all();
  auto j = nlohmann::json::parse(read_file(meta));
  auto image = inspect("meta:1");
  std::string manifest = image.at("Digest").get<std::string>();
  EXPECT_EQ(j.at("containerimage.digest"), manifest);
  EXPECT_EQ(j.at("containerimage.config.digest"), image.at("Id"));
  EXPECT_EQ(j.at("containerimage.config.digest"), image_id(r));
  EXPECT_EQ(j.at("image.name"), "docker.io/library/meta:1,example.com/team/meta:2");
  const auto& d = j.at("containerimage.descriptor");
  EXPECT_EQ(d.at("digest"), manifest);
  EXPECT_EQ(d.at("mediaType"), "application/vnd.oci.image.manifest.v1+json");
  // The size is that of the manifest the store holds under that digest.
  std::string blob = read_file(store() / "oci/blobs/sha256" / manifest.substr(7));
  EXPECT_EQ(d.at("size").get<std::int64_t>(), static_cast<std::int64_t>(blob.size()));
  // Written atomically: nothing but the file is left beside it.
  int entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(meta.parent_path())) ++entries;
  EXPECT_EQ(entries, 1);
}

TEST_F(BuildMetadataTest, MetadataFileIsWrittenOnlyWhenTheBuildSucceeds) {
  fs::path meta = dir("metadata.json");
  write_file(dir("ctx") / "Dockerfile", "FROM busybox\nRUN exit 3\n");
  auto failed = build(dir("ctx"), {"-t", "meta:1", "--metadata-file", meta.string()});
  EXPECT_NE(failed.exit_code, 0) << failed.all();
  EXPECT_FALSE(fs::exists(meta));
  // A directory that does not exist is refused, naming the path, before anything runs.
  write_file(dir("ctx") / "Dockerfile", kDockerfile);
  std::string missing = (dir("nowhere") / "metadata.json").string();
  auto refused = build(dir("ctx"), {"-t", "meta:1", "--metadata-file", missing});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find(missing), std::string::npos) << refused.err;
  EXPECT_EQ(refused.err.find("RUN cat"), std::string::npos) << "the build ran\n" << refused.err;
  EXPECT_FALSE(fs::exists(dir("nowhere")));
}

TEST_F(BuildMetadataTest, MetadataFileAfterAPushOnlyBuildHasThePushedDigest) {
  Registry registry(RegistryMode::kHttp);
  std::string name = registry.host() + "/meta:1";
  fs::path meta = dir("metadata.json");
  auto r = build(dir("ctx"),
                 {"-t", name, "--output", "type=registry", "--metadata-file", meta.string()});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  auto j = nlohmann::json::parse(read_file(meta));
  auto head = run({"curl", "-fsSI", "-H", "Accept: application/vnd.oci.image.manifest.v1+json",
                   registry.url() + "/v2/meta/manifests/1"});
  ASSERT_EQ(head.exit_code, 0) << head.all();
  std::string digest = j.at("containerimage.digest").get<std::string>();
  EXPECT_NE(ascii_lower(head.out).find("docker-content-digest: " + digest), std::string::npos)
      << head.out << "\n"
      << j.dump(2);
  EXPECT_EQ(j.at("containerimage.descriptor").at("digest"), digest);
  EXPECT_EQ(j.at("image.name"), name);
  EXPECT_EQ(j.at("containerimage.config.digest"), image_id(r));
}

}  // namespace
}  // namespace mkimg::testing
