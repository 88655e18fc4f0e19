// Image documents serialise canonically and parse strictly.
#include <gtest/gtest.h>

#include "common/error.h"
#include "oci/image.h"
#include "oci/media_types.h"

using namespace mkimg::oci;

namespace {

Descriptor blob(std::string_view content, std::string_view type) {
  return Descriptor{.media_type = std::string(type),
                    .digest = sha256_of(content),
                    .size = static_cast<std::int64_t>(content.size())};
}

Manifest sample_manifest() {
  Manifest m;
  m.media_type = std::string(media_type::kOciManifest);
  m.config = blob("config", media_type::kOciConfig);
  m.layers = {blob("layer", media_type::kOciLayerGzip)};
  return m;
}

}  // namespace

TEST(ManifestJson, IsCanonicalWithSortedKeysAndNoWhitespace) {
  std::string json = to_json(sample_manifest());
  EXPECT_EQ(json.find(' '), std::string::npos);
  EXPECT_LT(json.find("\"config\""), json.find("\"layers\""));
  EXPECT_LT(json.find("\"layers\""), json.rfind("\"mediaType\""));  // the top-level one
  EXPECT_LT(json.rfind("\"mediaType\""), json.find("\"schemaVersion\""));
  EXPECT_EQ(to_json(parse_manifest(json)), json);
}

TEST(ManifestJson, RoundTripsEveryField) {
  Manifest m = sample_manifest();
  m.annotations["a"] = "b";
  m.subject = blob("subject", media_type::kOciManifest);
  m.layers[0].urls = {"https://example.com/x"};
  m.layers[0].platform = Platform{.architecture = "arm64", .os = "linux", .variant = "v8"};
  EXPECT_EQ(parse_manifest(to_json(m)), m);
}

TEST(ManifestJson, RejectsADocumentThatIsAlsoAnIndex) {
  std::string json = to_json(sample_manifest());
  json.insert(1, R"("manifests":[],)");
  EXPECT_THROW(parse_manifest(json), mkimg::Error);
  EXPECT_THROW(parse_manifest_document(json, ""), mkimg::Error);
  EXPECT_THROW(parse_index(json), mkimg::Error);
}

TEST(ManifestJson, RejectsBadDescriptorsAndVersions) {
  std::string good = to_json(sample_manifest());
  auto with = [&](std::string from, std::string to) {
    std::string s = good;
    s.replace(s.find(from), from.size(), to);
    return s;
  };
  EXPECT_THROW(parse_manifest(with("\"schemaVersion\":2", "\"schemaVersion\":1")), mkimg::Error);
  EXPECT_THROW(parse_manifest(with("sha256:", "sha256:../")), mkimg::Error);
  EXPECT_THROW(parse_manifest(with("\"size\":6", "\"size\":-6")), mkimg::Error);
  EXPECT_THROW(parse_manifest(with("\"size\":6", "\"size\":\"6\"")), mkimg::Error);
  EXPECT_THROW(parse_manifest(
                   with(std::string(media_type::kOciManifest), std::string(media_type::kOciIndex))),
               mkimg::Error);
  EXPECT_THROW(parse_manifest("[]"), mkimg::Error);
  EXPECT_THROW(parse_manifest("{"), mkimg::Error);
  EXPECT_THROW(parse_manifest(std::string(kMaxDocumentSize + 1, ' ')), mkimg::Error);
}

TEST(ManifestDocument, TypeToldMustAgreeWithTheDocument) {
  std::string json = to_json(sample_manifest());
  EXPECT_TRUE(std::holds_alternative<Manifest>(parse_manifest_document(json, "")));
  EXPECT_THROW(parse_manifest_document(json, media_type::kOciIndex), mkimg::Error);
  Index x;
  x.media_type = std::string(media_type::kOciIndex);
  x.manifests = {blob("m", media_type::kOciManifest)};
  x.manifests[0].platform = Platform{.architecture = "amd64", .os = "linux"};
  auto doc = parse_manifest_document(to_json(x), media_type::kOciIndex);
  ASSERT_TRUE(std::holds_alternative<Index>(doc));
  EXPECT_EQ(std::get<Index>(doc), x);
}

TEST(ImageConfigJson, RoundTripsDockerFieldsAndKeepsNullVersusEmpty) {
  ImageConfig c;
  c.architecture = "amd64";
  c.os = "linux";
  c.created = "2024-01-02T03:04:05Z";
  c.config = ContainerConfig{};
  c.config->cmd = std::vector<std::string>{};
  c.config->env = {{"PATH=/bin"}};
  c.config->exposed_ports = {{"80/tcp"}};
  c.config->volumes = {{"/data"}};
  c.config->labels = {{{"a", "b"}}};
  c.config->healthcheck =
      Healthcheck{.test = {{"CMD", "true"}}, .interval = 30000000000, .retries = 3};
  c.config->args_escaped = true;
  c.rootfs.diff_ids = {sha256_of("layer")};
  c.history = {HistoryEntry{.created_by = "import", .empty_layer = false}};
  std::string json = to_json(c);
  EXPECT_NE(json.find(R"("Cmd":[])"), std::string::npos);
  EXPECT_EQ(json.find("Entrypoint"), std::string::npos);
  EXPECT_NE(json.find(R"("ExposedPorts":{"80/tcp":{}})"), std::string::npos);
  ImageConfig back = parse_image_config(json);
  EXPECT_EQ(back, c);
  EXPECT_EQ(to_json(back), json);
}

TEST(ImageConfigJson, NullReadsAsAbsentAndUnknownFieldsSurvive) {
  std::string docker = R"({"architecture":"amd64","os":"linux","docker_version":"20.10",
    "config":{"Cmd":null,"Entrypoint":null,"Hostname":"","Tty":false},
    "rootfs":{"type":"layers","diff_ids":[]}})";
  ImageConfig c = parse_image_config(docker);
  EXPECT_FALSE(c.config->cmd);
  EXPECT_FALSE(c.config->entrypoint);
  EXPECT_EQ(c.extra.at("docker_version"), "\"20.10\"");
  std::string json = to_json(c);
  EXPECT_NE(json.find(R"("Hostname":"")"), std::string::npos);
  EXPECT_NE(json.find(R"("docker_version":"20.10")"), std::string::npos);
}

TEST(ImageConfigJson, RejectsMissingRequiredFields) {
  EXPECT_THROW(parse_image_config(R"({"os":"linux","rootfs":{"type":"layers"}})"), mkimg::Error);
  EXPECT_THROW(parse_image_config(R"({"architecture":"amd64","os":"linux"})"), mkimg::Error);
  EXPECT_THROW(parse_image_config(
                   R"({"architecture":"a","os":"l","rootfs":{"type":"layers","diff_ids":["x"]}})"),
               mkimg::Error);
}

TEST(Rfc3339, FormatsAndParsesUtc) {
  EXPECT_EQ(rfc3339_utc(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(rfc3339_utc(1700000000), "2023-11-14T22:13:20Z");
  EXPECT_EQ(parse_rfc3339("2023-11-14T22:13:20Z"), 1700000000);
  EXPECT_EQ(parse_rfc3339("2023-11-14T23:13:20.123456789+01:00"), 1700000000);
  EXPECT_FALSE(parse_rfc3339("yesterday"));
}
