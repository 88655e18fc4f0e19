// `build --provenance` / `--attest type=provenance,mode=min|max`: a SLSA provenance v1 in-toto
// statement attached to each platform's image as BuildKit attaches it (an attestation manifest in
// the image index), checked field by field; and `mkimg verify`, which rebuilds from what the
// statement records and passes on a reproducible build, fails naming the files on one that
// writes the date, and on a changed context or Dockerfile.
#include <nlohmann/json.hpp>

#include "tests/support/builder_fixture.h"
#include "tests/support/registry_fixture.h"

namespace mkimg::testing {
namespace {

using json = nlohmann::json;

const char* const kApp =
    "FROM busybox\n"
    "ARG V=1\n"
    "COPY used.txt /used.txt\n"
    "RUN echo $V > /v && cat /used.txt > /copy\n"
    "LABEL made=by-test\n";

class ProvenanceTest : public BuilderTest {
 protected:
  void SetUp() override {
    BuilderTest::SetUp();
    if (IsSkipped()) return;
    write_file(dir("ctx") / "Dockerfile", kApp);
    write_file(dir("ctx") / "used.txt", "used\n");
    write_file(dir("ctx") / "unused.txt", "unused\n");
  }

  /// mkimg with SOURCE_DATE_EPOCH=0 and plain progress.
  CommandResult mkimg(std::vector<std::string> args, bool epoch = true) {
    std::map<std::string, std::string> env;
    if (epoch) env["SOURCE_DATE_EPOCH"] = "0";
    return run_mkimg(store(), args, env);
  }

  json blob(const std::string& digest) const {
    return json::parse(read_file(store() / "oci/blobs/sha256" / digest.substr(7)));
  }

  /// The index `tag` names in the store.
  json index_of(const std::string& tag) const {
    auto r = run({"skopeo", "inspect", "--raw", "oci:" + (store() / "oci").string() + ":" + tag});
    EXPECT_EQ(r.exit_code, 0) << r.all();
    return r.exit_code == 0 ? json::parse(r.out) : json::object();
  }

  /// The statement attached to the index's image for `arch`, and the image's manifest digest.
  std::pair<json, std::string> statement(const std::string& tag,
                                         const std::string& arch = "amd64") {
    json index = index_of(tag);
    std::string image;
    for (const auto& m : index["manifests"]) {
      if (m["platform"]["architecture"] == arch) image = m["digest"];
    }
    for (const auto& m : index["manifests"]) {
      auto a = m.value("annotations", json::object());
      if (a.value("vnd.docker.reference.digest", "") != image) continue;
      EXPECT_EQ(a.value("vnd.docker.reference.type", ""), "attestation-manifest");
      EXPECT_EQ(m["platform"]["os"], "unknown");
      EXPECT_EQ(m["platform"]["architecture"], "unknown");
      json manifest = blob(m["digest"]);
      EXPECT_EQ(manifest["layers"].size(), 1u) << manifest.dump();
      const json& layer = manifest["layers"][0];
      EXPECT_EQ(layer["mediaType"], "application/vnd.in-toto+json");
      EXPECT_EQ(layer["annotations"]["in-toto.io/predicate-type"],
                "https://slsa.dev/provenance/v1");
      json config = blob(manifest["config"]["digest"]);
      EXPECT_EQ(config["architecture"], "unknown");
      EXPECT_EQ(config["rootfs"]["diff_ids"][0], layer["digest"]);
      return {blob(layer["digest"]), image};
    }
    ADD_FAILURE() << "no attestation for " << arch << " in " << index.dump();
    return {json::object(), image};
  }

  std::string digest_of(const std::string& tag) {
    auto r = run({"skopeo", "inspect", "--format", "{{.Digest}}",
                  "oci:" + (store() / "oci").string() + ":" + tag});
    EXPECT_EQ(r.exit_code, 0) << r.all();
    return r.out.substr(0, r.out.find('\n'));
  }

  static std::string sha256(const std::string& text) {
    auto r = run({"sha256sum"}, {}, text);
    return "sha256:" + r.out.substr(0, 64);
  }
};

TEST_F(ProvenanceTest, MaxStatementRecordsTheBuildFieldByField) {
  auto r =
      mkimg({"build", "--progress", "plain", "--attest", "type=provenance,mode=max", "--build-arg",
             "V=2", "--label", "team=core", "-t", "app:1", dir("ctx").string()});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  auto [s, image] = statement("app:1");
  EXPECT_EQ(s["_type"], "https://in-toto.io/Statement/v1");
  EXPECT_EQ(s["predicateType"], "https://slsa.dev/provenance/v1");
  ASSERT_EQ(s["subject"].size(), 1u);
  EXPECT_EQ(s["subject"][0]["name"], "pkg:docker/app@1?platform=linux%2Famd64");
  EXPECT_EQ("sha256:" + s["subject"][0]["digest"]["sha256"].get<std::string>(), image);
  const json& def = s["predicate"]["buildDefinition"];
  const json& ext = def["externalParameters"];
  EXPECT_EQ(ext["configSource"]["path"], "Dockerfile");
  EXPECT_EQ("sha256:" + ext["configSource"]["digest"]["sha256"].get<std::string>(), sha256(kApp));
  EXPECT_EQ(ext["request"]["frontend"], "dockerfile.v0");
  EXPECT_EQ(ext["request"]["args"]["build-arg:V"], "2");
  EXPECT_EQ(ext["request"]["args"]["label:team"], "core");
  EXPECT_EQ(def["internalParameters"]["builderPlatform"], "linux/amd64");
  // The base as a package URL with the manifest digest the build used, and the context.
  std::string busybox = digest_of("busybox:latest");
  bool base = false, context = false;
  for (const auto& d : def["resolvedDependencies"]) {
    if (d.value("uri", "") == "pkg:docker/busybox@latest?platform=linux%2Famd64") {
      base = "sha256:" + d["digest"]["sha256"].get<std::string>() == busybox;
    }
    if (d.value("name", "") == "context") context = d["digest"].contains("sha256");
  }
  EXPECT_TRUE(base) << def["resolvedDependencies"].dump() << " " << busybox;
  EXPECT_TRUE(context) << def["resolvedDependencies"].dump();
  const json& meta = s["predicate"]["runDetails"]["metadata"];
  EXPECT_EQ(meta["buildkit_completeness"]["request"], true);
  EXPECT_EQ(meta["buildkit_hermetic"], false) << "a RUN had the network";
  EXPECT_EQ(meta["buildkit_reproducible"], true);
  EXPECT_FALSE(meta.contains("startedOn")) << "a reproducible statement has no clock";
  EXPECT_FALSE(meta.contains("invocationID"));
  EXPECT_EQ(meta["mkimg"]["platform"], "linux/amd64");
  EXPECT_EQ(meta["mkimg"]["sourceDateEpoch"], 0);
  EXPECT_EQ(meta["mkimg"]["images"]["busybox"], busybox);
  EXPECT_FALSE(meta["mkimg"]["version"].get<std::string>().empty());
  EXPECT_EQ(s["predicate"]["runDetails"]["builder"]["id"].get<std::string>().rfind(
                "pkg:generic/mkimg@", 0),
            0u);
  // The image itself still runs (the host's manifest of the index), and skopeo picks it.
  auto ran = run_image("app:1", {"cat", "/v"});
  EXPECT_EQ(ran.out, "2\n") << ran.all();
  auto inspected = run({"skopeo", "inspect", "oci:" + (store() / "oci").string() + ":app:1"});
  EXPECT_NE(inspected.out.find("\"made\": \"by-test\""), std::string::npos) << inspected.all();
}

TEST_F(ProvenanceTest, MinLeavesOutArgsAndLabelsAndAClocklessStatementIsReproducible) {
  auto r = mkimg({"build", "--progress", "plain", "--provenance", "--build-arg", "V=2", "-t",
                  "app:1", dir("ctx").string()});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  auto [s, image] = statement("app:1");
  const json& args = s["predicate"]["buildDefinition"]["externalParameters"]["request"]["args"];
  EXPECT_FALSE(args.contains("build-arg:V")) << args.dump();
  EXPECT_EQ(s["predicate"]["runDetails"]["metadata"]["buildkit_completeness"]["request"], false);
  // The same inputs again (every step cached): the same index, attestation and all.
  json first = index_of("app:1");
  auto again = mkimg({"build", "--progress", "plain", "--provenance", "--build-arg", "V=2", "-t",
                      "app:1", dir("ctx").string()});
  ASSERT_EQ(again.exit_code, 0) << again.all();
  EXPECT_EQ(index_of("app:1"), first);
  // Without SOURCE_DATE_EPOCH the statement has its times and an invocation id.
  auto dated = mkimg(
      {"build", "--progress", "plain", "--provenance=true", "-t", "app:3", dir("ctx").string()},
      false);
  ASSERT_EQ(dated.exit_code, 0) << dated.all();
  const json meta = statement("app:3").first["predicate"]["runDetails"]["metadata"];
  EXPECT_TRUE(meta.contains("startedOn")) << meta.dump();
  EXPECT_EQ(meta["invocationID"].get<std::string>().size(), 25u);
  EXPECT_EQ(meta["buildkit_reproducible"], false);
  // Off: one manifest as before.
  auto off = mkimg(
      {"build", "--progress", "plain", "--provenance=false", "-t", "app:4", dir("ctx").string()});
  ASSERT_EQ(off.exit_code, 0) << off.all();
  EXPECT_EQ(index_of("app:4").value("mediaType", ""), "application/vnd.oci.image.manifest.v1+json");
}

TEST_F(ProvenanceTest, TheContextDigestFollowsTheFilesTheBuildRead) {
  auto context_digest = [&](const std::string& tag) {
    auto r =
        mkimg({"build", "--progress", "plain", "--provenance", "-t", tag, dir("ctx").string()});
    EXPECT_EQ(r.exit_code, 0) << r.all();
    return statement(tag)
        .first["predicate"]["runDetails"]["metadata"]["mkimg"]["contextDigest"]
        .get<std::string>();
  };
  std::string first = context_digest("c:1");
  write_file(dir("ctx") / "unused.txt", "changed, but no step reads it\n");
  EXPECT_EQ(context_digest("c:2"), first);
  write_file(dir("ctx") / "used.txt", "changed\n");
  EXPECT_NE(context_digest("c:3"), first);
}

TEST_F(ProvenanceTest, BadAttestationFlagsAreRefusedNamingThem) {
  for (const auto& [flags, says] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--attest", "type=sbom"}, "only type=provenance"},
           {{"--attest", "mode=max"}, "needs type=provenance"},
           {{"--provenance=mode=huge"}, "mode=huge"},
       }) {
    std::vector<std::string> args{"build", "--progress", "plain"};
    args.insert(args.end(), flags.begin(), flags.end());
    args.push_back(dir("ctx").string());
    auto r = mkimg(args);
    EXPECT_NE(r.exit_code, 0) << says;
    EXPECT_NE(r.err.find(says), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("COPY used.txt"), std::string::npos) << "the build ran\n" << r.err;
  }
}

TEST_F(ProvenanceTest, ADockerArchiveSaysItCarriesNoAttestation) {
  fs::path archive = dir("app.tar");
  auto r = mkimg({"build", "--progress", "plain", "--provenance", "-t", "app:1", "-o",
                  "type=docker,dest=" + archive.string(), dir("ctx").string()});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_NE(r.err.find("type=docker carries no provenance"), std::string::npos) << r.err;
  auto inspected = run({"skopeo", "inspect", "docker-archive:" + archive.string()});
  EXPECT_EQ(inspected.exit_code, 0) << inspected.all();
}

TEST_F(ProvenanceTest, VerifyRebuildsFromTheRecordAndPassesOnAReproducibleBuild) {
  // The base the build used stays in the store under another name; busybox:latest moves on.
  ASSERT_EQ(run_mkimg(store(), {"tag", "busybox:latest", "busybox:old"}).exit_code, 0);
  auto r = mkimg({"build", "--progress", "plain", "--provenance=mode=max", "--build-arg", "V=2",
                  "-t", "app:1", dir("ctx").string()});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  write_file(dir("newer") / "Dockerfile", "FROM busybox:old\nCOPY marker /marker\n");
  write_file(dir("newer") / "marker", "x");
  ASSERT_EQ(mkimg({"build", "--progress", "plain", "-t", "busybox:latest", dir("newer").string()})
                .exit_code,
            0);
  auto v = run_mkimg(store(),
                     {"verify", "app:1", "--context", dir("ctx").string(), "--progress", "plain"});
  EXPECT_EQ(v.exit_code, 0) << v.all();
  EXPECT_NE(v.err.find("verified linux/amd64"), std::string::npos) << v.err;
  // Every step ran again (nothing from the cache), and nothing new is tagged.
  EXPECT_EQ(count(v.err, "CACHED"), 0) << v.err;
  auto images = run_mkimg(store(), {"images"});
  EXPECT_EQ(count(images.out, "app"), 1) << images.out;
}

TEST_F(ProvenanceTest, VerifyFailsNamingTheFilesOfABuildThatWritesTheDate) {
  write_file(dir("dated") / "Dockerfile",
             "FROM busybox\nRUN date > /stamp && cat /proc/sys/kernel/random/uuid >> /stamp"
             " && echo same > /same\n");
  auto r = mkimg(
      {"build", "--progress", "plain", "--provenance", "-t", "dated:1", dir("dated").string()});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  auto v = run_mkimg(
      store(), {"verify", "dated:1", "--context", dir("dated").string(), "--progress", "plain"});
  EXPECT_EQ(v.exit_code, 1) << v.all();
  EXPECT_NE(v.err.find("not verified linux/amd64"), std::string::npos) << v.err;
  EXPECT_NE(v.err.find("changed /stamp"), std::string::npos) << v.err;
  EXPECT_EQ(v.err.find("changed /same"), std::string::npos) << v.err;
}

TEST_F(ProvenanceTest, VerifyNamesAChangedContextAndAChangedDockerfile) {
  auto r = mkimg({"build", "--progress", "plain", "--provenance=mode=max", "--build-arg", "V=2",
                  "-t", "app:1", dir("ctx").string()});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  write_file(dir("ctx") / "used.txt", "edited after the build\n");
  auto v = run_mkimg(store(), {"verify", "app:1", "--context", dir("ctx").string()});
  EXPECT_EQ(v.exit_code, 1) << v.all();
  EXPECT_NE(v.err.find("the context's files differ"), std::string::npos) << v.err;
  EXPECT_NE(v.err.find("/used.txt"), std::string::npos) << v.err;
  write_file(dir("ctx") / "Dockerfile", std::string(kApp) + "ENV EXTRA=1\n");
  auto d = run_mkimg(store(), {"verify", "app:1", "--context", dir("ctx").string()});
  EXPECT_EQ(d.exit_code, 1) << d.all();
  EXPECT_NE(d.err.find("is not the one the provenance records"), std::string::npos) << d.err;
  // An image without provenance is refused, naming the fix.
  auto none = run_mkimg(store(), {"verify", "busybox:latest"});
  EXPECT_NE(none.exit_code, 0);
  EXPECT_NE(none.err.find("build it with --provenance"), std::string::npos) << none.err;
}

TEST_F(ProvenanceTest, APushedImageIsPulledWithItsAttestationsAndVerified) {
  Registry registry(RegistryMode::kHttp);
  std::string name = registry.host() + "/app:1";
  auto r =
      mkimg({"build", "--progress", "plain", "--provenance=mode=max", "--build-arg", "V=2", "-t",
             name, "--push", "--insecure-registry", registry.host(), dir("ctx").string()});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  // `pull --all-platforms` brings the index with the attestation manifest and its statement.
  fs::path other = dir("other-store");
  auto pulled =
      run_mkimg(other, {"pull", "--all-platforms", "--insecure-registry", registry.host(), name});
  ASSERT_EQ(pulled.exit_code, 0) << pulled.all();
  auto raw = run({"skopeo", "inspect", "--raw", "oci:" + (other / "oci").string() + ":" + name});
  ASSERT_EQ(raw.exit_code, 0) << raw.all();
  json index = json::parse(raw.out);
  ASSERT_EQ(index["manifests"].size(), 2u) << raw.out;
  json attestation = json::parse(read_file(
      other / "oci/blobs/sha256" / index["manifests"][1]["digest"].get<std::string>().substr(7)));
  EXPECT_TRUE(fs::exists(other / "oci/blobs/sha256" /
                         attestation["layers"][0]["digest"].get<std::string>().substr(7)));
  // verify of a name the store lacks pulls it so (the base is still in this store).
  ASSERT_EQ(run_mkimg(store(), {"rmi", name}).exit_code, 0);
  auto v = run_mkimg(store(), {"verify", name, "--insecure-registry", registry.host(), "--context",
                               dir("ctx").string()});
  EXPECT_EQ(v.exit_code, 0) << v.all();
  EXPECT_NE(v.err.find("verified linux/amd64"), std::string::npos) << v.err;
}

TEST_F(ProvenanceTest, NamedContextsAreRecordedAndPinnedOrAskedFor) {
  ASSERT_EQ(run_mkimg(store(), {"tag", "busybox:latest", "busybox:old"}).exit_code, 0);
  write_file(dir("named") / "Dockerfile",
             "FROM base\nCOPY --from=extra file.txt /file.txt\nRUN cat /file.txt > /copy\n");
  write_file(dir("extra") / "file.txt", "extra\n");
  auto r = mkimg({"build", "--progress", "plain", "--provenance", "-t", "named:1",
                  "--build-context", "base=docker-image://busybox:old", "--build-context",
                  "extra=" + dir("extra").string(), dir("named").string()});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  const json args =
      statement("named:1")
          .first["predicate"]["buildDefinition"]["externalParameters"]["request"]["args"];
  EXPECT_EQ(args.value("context:base", ""), "docker-image://busybox:old") << args.dump();
  EXPECT_EQ(args.value("context:extra", ""), "local:extra") << args.dump();
  // busybox:old moves on; verify builds FROM the recorded digest, and asks for the directory.
  write_file(dir("newer") / "Dockerfile", "FROM busybox\nCOPY marker /marker\n");
  write_file(dir("newer") / "marker", "x");
  ASSERT_EQ(
      mkimg({"build", "--progress", "plain", "-t", "busybox:old", dir("newer").string()}).exit_code,
      0);
  auto asked = run_mkimg(store(), {"verify", "named:1", "--context", dir("named").string()});
  EXPECT_NE(asked.exit_code, 0);
  EXPECT_NE(asked.err.find("--build-context extra=DIR"), std::string::npos) << asked.err;
  auto v = run_mkimg(store(), {"verify", "named:1", "--context", dir("named").string(),
                               "--build-context", "extra=" + dir("extra").string()});
  EXPECT_EQ(v.exit_code, 0) << v.all();
}

}  // namespace
}  // namespace mkimg::testing
