// --cache-to / --cache-from between stores, as two CI runners share a cache: a real
// docker-registry on loopback (tests/support/registry_fixture.h) and OCI layout directories.
// Runner A builds and exports; runner B starts from an empty store and another context
// directory with the same files. The RUN steps write a random id, so equal image ids prove
// that B ran none of them.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "oci/digest.h"
#include "tests/support/builder_fixture.h"
#include "tests/support/registry_fixture.h"

namespace mkimg::testing {
namespace {

class SharedCacheTest : public BuilderTest {
 protected:
  void SetUp() override {
    BuilderTest::SetUp();
    if (IsSkipped()) return;
    registry_ = std::make_unique<Registry>(RegistryMode::kHttp);
    auto pushed = run_mkimg(store(), {"push", "busybox:latest", base()});
    ASSERT_EQ(pushed.exit_code, 0) << pushed.all();
  }

  std::string base() const { return registry_->host() + "/busybox:latest"; }
  std::string cache_repo() const { return registry_->host() + "/cache"; }

  /// A context with a builder stage and a final stage that copies from it.
  fs::path context(const std::string& name, const std::string& app = "app v1\n") {
    fs::path c = dir(name);
    fs::create_directories(c);
    write_file(c / "src.txt", "source\n");
    write_file(c / "app.txt", app);
    write_file(c / "Dockerfile", "FROM " + base() +
                                     " AS builder\n"
                                     "COPY src.txt /src.txt\n"
                                     "RUN cat /proc/sys/kernel/random/uuid > /id && cp /src.txt "
                                     "/out\n"
                                     "FROM " +
                                     base() +
                                     "\n"
                                     "COPY --from=builder /out /out\n"
                                     "COPY app.txt /app.txt\n"
                                     "RUN cat /proc/sys/kernel/random/uuid > /id2\n");
    return c;
  }

  /// A build in the store `root` (a runner of its own).
  CommandResult build_in(const fs::path& root, const fs::path& ctx,
                         std::vector<std::string> extra) {
    std::vector<std::string> args{"build", "--progress", "plain"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(ctx.string());
    return run_mkimg(root, args);
  }

  std::vector<std::string> tags(const std::string& repo) {
    auto r = run({"curl", "-fsS", registry_->url() + "/v2/" + repo + "/tags/list"});
    std::vector<std::string> out;
    for (auto p = r.out.find("sha256-"); p != std::string::npos; p = r.out.find("sha256-", p + 1)) {
      out.push_back(r.out.substr(p, 71));
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  /// The tags (ref.name annotations) of an OCI layout's index.json.
  static std::vector<std::string> tags_in_layout(const fs::path& layout) {
    std::string index = read_file(layout / "index.json");
    std::vector<std::string> out;
    const std::string key = "\"org.opencontainers.image.ref.name\":\"";
    for (auto p = index.find(key); p != std::string::npos; p = index.find(key, p + 1)) {
      auto start = p + key.size();
      out.push_back(index.substr(start, index.find('"', start) - start));
    }
    return out;
  }

  /// The layer digests ("sha256:...") of `repo:tag` as the registry serves it.
  std::vector<std::string> registry_layers(const std::string& repo, const std::string& tag) {
    auto r = run({"curl", "-fsS", "-H", "Accept: application/vnd.oci.image.manifest.v1+json",
                  registry_->url() + "/v2/" + repo + "/manifests/" + tag});
    std::vector<std::string> out;
    EXPECT_EQ(r.exit_code, 0) << r.all();
    nlohmann::json manifest = nlohmann::json::parse(r.out);
    for (const auto& l : manifest["layers"]) out.push_back(l["digest"]);
    EXPECT_FALSE(out.empty()) << r.all();
    return out;
  }

  /// The file the registry keeps blob `digest` in.
  fs::path registry_blob(const std::string& digest) const {
    std::string hex = digest.substr(7);
    return registry_->dir() / "storage/docker/registry/v2/blobs/sha256" / hex.substr(0, 2) / hex /
           "data";
  }

  static bool store_has_blob(const fs::path& root, const std::string& digest) {
    return fs::exists(root / "oci/blobs/sha256" / digest.substr(7));
  }

  std::unique_ptr<Registry> registry_;
};

TEST_F(SharedCacheTest, AFreshRunnerReusesEveryStepFromTheRegistry) {
  auto a = build_in(store(), context("ctx-a"),
                    {"--cache-to", "type=registry,ref=" + cache_repo() + ",mode=max"});
  ASSERT_EQ(a.exit_code, 0) << a.all();
  EXPECT_NE(a.err.find("exporting cache to"), std::string::npos) << a.err;
  // COPY + RUN, COPY --from (under its key and its alias), COPY, RUN
  EXPECT_EQ(tags("cache").size(), 6u) << a.err;

  auto b = build_in(dir("store-b"), context("ctx-b"),
                    {"--cache-from", "type=registry,ref=" + cache_repo()});
  ASSERT_EQ(b.exit_code, 0) << b.all();
  EXPECT_EQ(count(b.err, "CACHED"), 5) << b.err;
  EXPECT_EQ(image_id(b), image_id(a)) << b.err;
  // Nothing was written: --cache-from alone never exports.
  EXPECT_EQ(b.err.find("exporting cache"), std::string::npos) << b.err;

  // The next build on B, without --cache-from, hits what B holds: the final stage's steps. The
  // builder stage's layers never came to B (nothing needed them), so it runs; its keys are
  // the same, so COPY --from hits and the image is the same.
  auto again = build_in(dir("store-b"), context("ctx-b"), {"-t", "app:b"});
  ASSERT_EQ(again.exit_code, 0) << again.all();
  EXPECT_EQ(count(again.err, "CACHED"), 3) << again.err;
  EXPECT_EQ(image_id(again), image_id(a)) << again.err;
  auto ran = run_mkimg(dir("store-b"), {"run", "--rm", "app:b", "cat", "/out", "/app.txt"});
  ASSERT_EQ(ran.exit_code, 0) << ran.all();
  EXPECT_EQ(ran.out, "source\napp v1\n");
}

TEST_F(SharedCacheTest, AFreshRunnerDownloadsOnlyTheLayersItsImageHolds) {
  std::string first = registry_->host() + "/app:a";
  auto a = build_in(
      store(), context("ctx-a"),
      {"--cache-to", "type=registry,ref=" + cache_repo() + ",mode=max", "-t", first, "--push"});
  ASSERT_EQ(a.exit_code, 0) << a.all();
  auto image_layers = registry_layers("app", "a");
  std::vector<std::string> builder_layers;
  for (const auto& tag : tags("cache")) {
    for (const auto& layer : registry_layers("cache", tag)) {
      if (std::find(image_layers.begin(), image_layers.end(), layer) == image_layers.end()) {
        builder_layers.push_back(layer);
      }
    }
  }
  ASSERT_EQ(builder_layers.size(), 2u);  // the builder stage's COPY and RUN

  auto b =
      build_in(dir("store-b"), context("ctx-b"), {"--cache-from", cache_repo(), "-t", "app:b"});
  ASSERT_EQ(b.exit_code, 0) << b.all();
  EXPECT_EQ(count(b.err, "CACHED"), 5) << b.err;
  EXPECT_EQ(image_id(b), image_id(a)) << b.err;
  // The builder stage was cached and nothing read its files: COPY --from hit by the stage's key.
  for (const auto& layer : builder_layers) {
    EXPECT_FALSE(store_has_blob(dir("store-b"), layer)) << layer << "\n" << b.err;
  }
  for (const auto& layer : image_layers) EXPECT_TRUE(store_has_blob(dir("store-b"), layer));
  // Every step cached: no step needed a root file system, so not even the base was unpacked.
  EXPECT_TRUE(!fs::exists(dir("store-b") / "layers") || fs::is_empty(dir("store-b") / "layers"))
      << b.err;
  auto ran = run_mkimg(dir("store-b"), {"run", "--rm", "app:b", "cat", "/out", "/app.txt"});
  EXPECT_EQ(ran.out, "source\napp v1\n") << ran.all();

  // A change in the final stage runs only that step; the builder's files are still not needed.
  auto c = build_in(dir("store-b"), context("ctx-c", "app v2\n"), {"--cache-from", cache_repo()});
  ASSERT_EQ(c.exit_code, 0) << c.all();
  EXPECT_EQ(count(c.err, "CACHED"), 3) << c.err;
  for (const auto& layer : builder_layers) EXPECT_FALSE(store_has_blob(dir("store-b"), layer));
}

TEST_F(SharedCacheTest, AStagesKeysAreLookedUpInOneBatch) {
  auto make = [&](const std::string& name) {
    fs::path c = dir(name);
    fs::create_directories(c);
    write_file(c / "a.txt", "a\n");
    write_file(c / "Dockerfile", "FROM " + base() +
                                     "\nCOPY a.txt /a.txt\nRUN echo 1 > /1\nENV X=1\n"
                                     "RUN echo $X > /2\nWORKDIR /w\nRUN echo 3 > 3\n");
    return c;
  };
  auto a = build_in(store(), make("ctx-a"),
                    {"--cache-to", "type=registry,ref=" + cache_repo() + ",mode=max"});
  ASSERT_EQ(a.exit_code, 0) << a.all();
  auto b = run_mkimg(dir("store-b"), {"--log-level", "debug", "build", "--progress", "plain",
                                      "--cache-from", cache_repo(), make("ctx-b").string()});
  ASSERT_EQ(b.exit_code, 0) << b.all();
  EXPECT_EQ(count(b.err, "CACHED"), 5) << b.err;
  EXPECT_EQ(image_id(b), image_id(a));
  // Every key of the stage was known before any step ran, and asked for at once.
  EXPECT_NE(b.err.find("asked the shared cache for 5 keys at once: 5 hits"), std::string::npos)
      << b.err;
  // The plain-HTTP registry refused TLS once; the base and the cache did not both try it.
  EXPECT_EQ(count(b.err, "http GET https://"), 1) << b.err;
}

TEST_F(SharedCacheTest, APushOnlyBuildMountsCachedLayersAndDownloadsNone) {
  std::string first = registry_->host() + "/app:a";
  auto a = build_in(
      store(), context("ctx-a"),
      {"--cache-to", "type=registry,ref=" + cache_repo() + ",mode=max", "-t", first, "--push"});
  ASSERT_EQ(a.exit_code, 0) << a.all();

  std::string second = registry_->host() + "/team/app:b";
  auto b = build_in(dir("store-b"), context("ctx-b"),
                    {"--cache-from", cache_repo(), "-t", second, "--output", "type=registry"});
  ASSERT_EQ(b.exit_code, 0) << b.all();
  EXPECT_EQ(count(b.err, "CACHED"), 5) << b.err;
  EXPECT_EQ(image_id(b), image_id(a)) << b.err;
  // The final stage's three layers went from the cache repository to the image's by a
  // cross-repository mount, and the base's layer from the base's repository: none of them
  // passed through runner B.
  auto layers = registry_layers("team/app", "b");
  ASSERT_EQ(layers.size(), 4u);
  EXPECT_EQ(layers, registry_layers("app", "a"));
  EXPECT_NE(b.err.find("mounted " + layers[0] + " from busybox"), std::string::npos) << b.err;
  for (std::size_t i = 1; i < layers.size(); ++i) {
    EXPECT_NE(b.err.find("mounted " + layers[i] + " from cache"), std::string::npos) << b.err;
  }
  for (const auto& layer : layers) EXPECT_FALSE(store_has_blob(dir("store-b"), layer)) << layer;
  // type=registry keeps no image in the store.
  auto images = run_mkimg(dir("store-b"), {"images"});
  EXPECT_EQ(images.out.find("app"), std::string::npos) << images.all();

  // Another runner pulls what B pushed and runs it.
  auto pulled = run_mkimg(dir("store-c"), {"pull", second});
  ASSERT_EQ(pulled.exit_code, 0) << pulled.all();
  auto ran = run_mkimg(dir("store-c"), {"run", "--rm", second, "cat", "/out", "/app.txt"});
  EXPECT_EQ(ran.out, "source\napp v1\n") << ran.all();

  // A push-only build whose last steps miss fetches what those steps need (the base's layer and
  // the cached layers below them) and builds the rest.
  std::string third = registry_->host() + "/team/app:c";
  auto c = build_in(dir("store-d"), context("ctx-d", "app v2\n"),
                    {"--cache-from", cache_repo(), "-t", third, "--output", "type=registry"});
  ASSERT_EQ(c.exit_code, 0) << c.all();
  EXPECT_EQ(count(c.err, "CACHED"), 3) << c.err;
  auto pulled_c = run_mkimg(dir("store-c"), {"pull", third});
  ASSERT_EQ(pulled_c.exit_code, 0) << pulled_c.all();
  auto ran_c = run_mkimg(dir("store-c"), {"run", "--rm", third, "cat", "/out", "/app.txt"});
  EXPECT_EQ(ran_c.out, "source\napp v2\n") << ran_c.all();
}

TEST_F(SharedCacheTest, ABadLayerFoundWhenItIsNeededIsAMissAndTheImageIsRight) {
  std::string first = registry_->host() + "/app:a";
  auto a = build_in(
      store(), context("ctx-a"),
      {"--cache-to", "type=registry,ref=" + cache_repo() + ",mode=max", "-t", first, "--push"});
  ASSERT_EQ(a.exit_code, 0) << a.all();
  // The last RUN's layer is damaged in the registry's storage. Its entry is whole, so the
  // lookup hits; the damage shows only when the image needs the layer's bytes.
  std::string last = registry_layers("app", "a").back();
  write_file(registry_blob(last), "not a layer");
  auto b =
      build_in(dir("store-b"), context("ctx-b"), {"--cache-from", cache_repo(), "-t", "app:b"});
  ASSERT_EQ(b.exit_code, 0) << b.all();
  EXPECT_NE(b.err.find("not used: its layer cannot be downloaded"), std::string::npos) << b.err;
  EXPECT_NE(b.err.find("building again without it"), std::string::npos) << b.err;
  EXPECT_NE(b.err.find("] RUN cat /proc/sys/kernel/random/uuid > /id2"), std::string::npos)
      << b.err;
  EXPECT_NE(image_id(b), image_id(a));
  auto ran = run_mkimg(dir("store-b"), {"run", "--rm", "app:b", "cat", "/out", "/app.txt"});
  EXPECT_EQ(ran.out, "source\napp v1\n") << ran.all();
  auto check = run_mkimg(dir("store-b"), {"images"});
  EXPECT_EQ(check.exit_code, 0) << check.all();
}

TEST_F(SharedCacheTest, ModeMinExportsOnlyTheFinalImagesSteps) {
  auto a = build_in(store(), context("ctx-a"),
                    {"--cache-to", "type=registry,ref=" + cache_repo() + ",mode=min"});
  ASSERT_EQ(a.exit_code, 0) << a.all();
  EXPECT_EQ(tags("cache").size(), 4u) << a.err;  // the final stage's, COPY --from twice

  auto b = build_in(dir("store-b"), context("ctx-b"), {"--cache-from", cache_repo()});
  ASSERT_EQ(b.exit_code, 0) << b.all();
  // The builder stage runs again; its /out is the same file, so the final stage hits.
  EXPECT_NE(b.err.find("RUN cat /proc/sys/kernel/random/uuid > /id &&"), std::string::npos);
  EXPECT_EQ(b.err.find("CACHED RUN cat /proc/sys/kernel/random/uuid > /id &&"), std::string::npos)
      << b.err;
  EXPECT_NE(b.err.find("CACHED RUN cat /proc/sys/kernel/random/uuid > /id2"), std::string::npos)
      << b.err;
  EXPECT_EQ(image_id(b), image_id(a));
}

TEST_F(SharedCacheTest, APartialHitRunsOnlyWhatChanged) {
  auto a = build_in(store(), context("ctx-a"),
                    {"--cache-to", "type=registry,ref=" + cache_repo() + ",mode=max"});
  ASSERT_EQ(a.exit_code, 0) << a.all();
  auto b = build_in(dir("store-b"), context("ctx-b", "app v2\n"),
                    {"--cache-from", cache_repo(), "--explain"});
  ASSERT_EQ(b.exit_code, 0) << b.all();
  EXPECT_EQ(count(b.err, "CACHED"), 3) << b.err;  // builder stage and COPY --from
  // --explain names where a hit came from, and why the changed step missed there.
  EXPECT_EQ(count(b.err, "cache hit in " + cache_repo()), 3) << b.err;
  EXPECT_NE(b.err.find("cache miss in --cache-from too: " + cache_repo() + ": no entry"),
            std::string::npos)
      << b.err;
  EXPECT_EQ(b.err.find("CACHED COPY app.txt"), std::string::npos) << b.err;
  EXPECT_NE(image_id(b), image_id(a));
}

TEST_F(SharedCacheTest, ALocalDirectoryCarriesTheCacheBetweenStores) {
  fs::path cache_dir = dir("ci-cache");
  auto a = build_in(store(), context("ctx-a"),
                    {"--cache-to", "type=local,dest=" + cache_dir.string() + ",mode=max"});
  ASSERT_EQ(a.exit_code, 0) << a.all();
  // An OCI image layout peers read.
  auto listed = run({"skopeo", "inspect", "--raw",
                     "oci:" + cache_dir.string() + ":" + tags_in_layout(cache_dir).front()});
  ASSERT_EQ(listed.exit_code, 0) << listed.all();
  EXPECT_NE(listed.out.find("application/vnd.mkimg.cache.entry.v1+json"), std::string::npos);

  auto b = build_in(dir("store-b"), context("ctx-b"),
                    {"--cache-from", "type=local,src=" + cache_dir.string()});
  ASSERT_EQ(b.exit_code, 0) << b.all();
  EXPECT_EQ(count(b.err, "CACHED"), 5) << b.err;
  EXPECT_EQ(image_id(b), image_id(a));
}

TEST_F(SharedCacheTest, ALargeCopysEntryFoldsItsSourcesAndStillExplainsAMiss) {
  auto tree = [&](const std::string& name) {
    fs::path c = dir(name);
    for (int i = 0; i < 200; ++i) write_file(c / "files" / ("f" + std::to_string(i)), "x\n");
    write_file(c / "Dockerfile", "FROM " + base() + "\nCOPY files /files\n");
    return c;
  };
  fs::path cache_dir = dir("ci-cache");
  auto a =
      build_in(store(), tree("ctx-a"), {"--cache-to", "type=local,dest=" + cache_dir.string()});
  ASSERT_EQ(a.exit_code, 0) << a.all();
  // Every entry document is small: 200 file names would be ~30 kB.
  int entries = 0;
  for (const auto& f : fs::recursive_directory_iterator(cache_dir / "blobs")) {
    std::string text = f.is_regular_file() ? read_file(f.path()) : "";
    if (text.find("\"layer_digest\"") == std::string::npos) continue;
    ++entries;
    EXPECT_LT(text.size(), 2000u) << text.substr(0, 400);
    EXPECT_NE(text.find("\"sources\""), std::string::npos) << text.substr(0, 400);
  }
  EXPECT_EQ(entries, 1);
  // The runner that adopted it explains a changed file as a change of the sources.
  fs::path ctx_b = tree("ctx-b");
  auto b =
      build_in(dir("store-b"), ctx_b, {"--cache-from", "type=local,src=" + cache_dir.string()});
  ASSERT_EQ(b.exit_code, 0) << b.all();
  EXPECT_EQ(count(b.err, "CACHED"), 1) << b.err;
  write_file(ctx_b / "files" / "f7", "changed\n");
  auto c = build_in(dir("store-b"), ctx_b, {"--explain"});
  ASSERT_EQ(c.exit_code, 0) << c.all();
  EXPECT_NE(c.err.find("changed: sources"), std::string::npos) << c.err;
}

TEST_F(SharedCacheTest, ACorruptedBlobIsAMissWithAWarningNeverAWrongImage) {
  fs::path cache_dir = dir("ci-cache");
  auto a = build_in(store(), context("ctx-a"),
                    {"--cache-to", "type=local,dest=" + cache_dir.string() + ",mode=max"});
  ASSERT_EQ(a.exit_code, 0) << a.all();
  // Damage every layer blob (the big ones; entry documents are small JSON).
  int damaged = 0;
  for (const auto& f : fs::recursive_directory_iterator(cache_dir / "blobs")) {
    if (f.is_regular_file() && read_file(f.path()).substr(0, 2) == "\x1f\x8b") {
      write_file(f.path(), "not a layer");
      ++damaged;
    }
  }
  ASSERT_GT(damaged, 0);
  auto b = build_in(dir("store-b"), context("ctx-b"),
                    {"--cache-from", "type=local,src=" + cache_dir.string()});
  ASSERT_EQ(b.exit_code, 0) << b.all();
  EXPECT_NE(b.err.find("warning: cache type=local"), std::string::npos) << b.err;
  EXPECT_NE(b.err.find("not used"), std::string::npos) << b.err;
  EXPECT_EQ(count(b.err, "CACHED"), 0) << b.err;
  auto ran = run_mkimg(dir("store-b"), {"run", "--rm", image_id(b), "cat", "/out"});
  EXPECT_EQ(ran.out, "source\n") << ran.all();
}

// Entries whose layer's media type lies about its compression (zstd for gzip bytes; the
// digests all agree, as a cache written by a buggy or hostile tool) are refused as a pull
// refuses such a layer: before, the layer went into the image under the wrong media type.
TEST_F(SharedCacheTest, ALayerWhoseMediaTypeLiesIsAMissNeverAWrongImage) {
  fs::path cache_dir = dir("ci-cache");
  auto a = build_in(store(), context("ctx-a"),
                    {"--cache-to", "type=local,dest=" + cache_dir.string() + ",mode=max"});
  ASSERT_EQ(a.exit_code, 0) << a.all();
  const std::string gzip = "application/vnd.oci.image.layer.v1.tar+gzip";
  const std::string zstd = "application/vnd.oci.image.layer.v1.tar+zstd";
  auto blob = [&](const std::string& digest) {
    return cache_dir / "blobs/sha256" / digest.substr(7);
  };
  auto relabel = [&](std::string text) {
    for (auto p = text.find(gzip); p != std::string::npos; p = text.find(gzip, p)) {
      text.replace(p, gzip.size(), zstd);
    }
    return text;
  };
  // Each entry (a manifest whose config is the entry document) written again relabelled, and
  // the index pointed at it.
  nlohmann::json index = nlohmann::json::parse(read_file(cache_dir / "index.json"));
  int relabelled = 0;
  for (auto& m : index["manifests"]) {
    nlohmann::json manifest = nlohmann::json::parse(read_file(blob(m["digest"])));
    if (manifest["layers"].empty()) continue;
    std::string doc = relabel(read_file(blob(manifest["config"]["digest"])));
    std::string doc_digest = oci::sha256_of(doc).str();
    write_file(blob(doc_digest), doc);
    manifest["config"]["digest"] = doc_digest;
    manifest["config"]["size"] = doc.size();
    std::string bytes = relabel(manifest.dump());
    std::string digest = oci::sha256_of(bytes).str();
    write_file(blob(digest), bytes);
    m["digest"] = digest;
    m["size"] = bytes.size();
    ++relabelled;
  }
  ASSERT_GT(relabelled, 0);
  write_file(cache_dir / "index.json", index.dump());

  auto b = build_in(dir("store-b"), context("ctx-b"),
                    {"--cache-from", "type=local,src=" + cache_dir.string(), "-t", "app:b"});
  ASSERT_EQ(b.exit_code, 0) << b.all();
  EXPECT_NE(b.err.find("says zstd, but its bytes are gzip"), std::string::npos) << b.err;
  EXPECT_EQ(count(b.err, "CACHED"), 0) << b.err;
  auto inspect = run_mkimg(dir("store-b"), {"inspect", "app:b"});
  ASSERT_EQ(inspect.exit_code, 0) << inspect.all();
  for (const auto& l : nlohmann::json::parse(inspect.out).at(0).at("Manifest").at("layers")) {
    EXPECT_EQ(l.at("mediaType"), gzip) << inspect.out;
  }
  auto ran = run_mkimg(dir("store-b"), {"run", "--rm", "app:b", "cat", "/out"});
  EXPECT_EQ(ran.out, "source\n") << ran.all();
}

TEST_F(SharedCacheTest, ARegistryThatIsDownIsAWarningAndAColdBuild) {
  int port = free_port();
  auto b = build_in(dir("store-b"), context("ctx-b"),
                    {"--cache-from", "127.0.0.1:" + std::to_string(port) + "/cache", "--cache-to",
                     "type=registry,ref=127.0.0.1:" + std::to_string(port) + "/cache"});
  ASSERT_EQ(b.exit_code, 0) << b.all();
  EXPECT_NE(b.err.find("cannot be read, building without it"), std::string::npos) << b.err;
  EXPECT_NE(b.err.find("warning: export cache to"), std::string::npos) << b.err;
  EXPECT_EQ(count(b.err, "CACHED"), 0) << b.err;
}

TEST_F(SharedCacheTest, ARegistryThatDiesHalfWayIsAWarningAndTheRestIsBuilt) {
  auto a = build_in(store(), context("ctx-a"),
                    {"--cache-to", "type=registry,ref=" + cache_repo() + ",mode=max"});
  ASSERT_EQ(a.exit_code, 0) << a.all();
  // B has its base already; the registry goes away before the first lookup.
  auto pulled = run_mkimg(dir("store-b"), {"pull", base()});
  ASSERT_EQ(pulled.exit_code, 0) << pulled.all();
  registry_->stop();
  auto b = build_in(dir("store-b"), context("ctx-b"), {"--cache-from", cache_repo()});
  ASSERT_EQ(b.exit_code, 0) << b.all();
  EXPECT_NE(b.err.find("warning: cache"), std::string::npos) << b.err;
  EXPECT_EQ(count(b.err, "CACHED"), 0) << b.err;
}

TEST_F(SharedCacheTest, ARegistryThatFailsOnceLayersAreNeededGivesAColdBuildNotAWrongOne) {
  auto a = build_in(store(), context("ctx-a"),
                    {"--cache-to", "type=registry,ref=" + cache_repo() + ",mode=max"});
  ASSERT_EQ(a.exit_code, 0) << a.all();
  // Through the proxy the entries arrive (small blobs) and every layer breaks off half way: the
  // lookups hit, and the failure comes only when the image needs the layers' bytes.
  FaultProxy proxy(*registry_, ProxyFault::kDropLayers);
  auto b = build_in(dir("store-b"), context("ctx-b"), {"--cache-from", proxy.host() + "/cache"});
  ASSERT_EQ(b.exit_code, 0) << b.all();
  EXPECT_NE(proxy.log().find("DROPPED"), std::string::npos) << proxy.log();
  EXPECT_NE(b.err.find("building again without it"), std::string::npos) << b.err;
  // The last attempt ran every step itself: a new image, whole and right.
  EXPECT_NE(image_id(b), image_id(a));
  auto ran = run_mkimg(dir("store-b"), {"run", "--rm", image_id(b), "cat", "/out", "/app.txt"});
  EXPECT_EQ(ran.out, "source\napp v1\n") << ran.all();
}

TEST_F(SharedCacheTest, TwoWritersAtOnceBothSucceedAndTheCacheServes) {
  context("ctx-a");
  context("ctx-c");
  CommandResult first, second;
  std::thread t([&] {
    first = build_in(store(), dir("ctx-a"),
                     {"--cache-to", "type=registry,ref=" + cache_repo() + ",mode=max"});
  });
  second = build_in(dir("store-c"), dir("ctx-c"),
                    {"--cache-to", "type=registry,ref=" + cache_repo() + ",mode=max"});
  t.join();
  ASSERT_EQ(first.exit_code, 0) << first.all();
  ASSERT_EQ(second.exit_code, 0) << second.all();
  EXPECT_EQ(tags("cache").size(), 6u);
  auto b = build_in(dir("store-b"), context("ctx-b"), {"--cache-from", cache_repo()});
  ASSERT_EQ(b.exit_code, 0) << b.all();
  EXPECT_EQ(count(b.err, "CACHED"), 5) << b.err;
  // Both wrote every key; where both put the same tag at once the later one holds it, so B
  // may combine entries of the two jobs (each whole; only their created times differ).
  auto ran = run_mkimg(dir("store-b"), {"run", "--rm", image_id(b), "cat", "/out", "/app.txt"});
  EXPECT_EQ(ran.out, "source\napp v1\n") << ran.all();
}

TEST_F(SharedCacheTest, InlineCacheInAPushedImageServesTheNextBuild) {
  std::string image = registry_->host() + "/app:v1";
  auto a =
      build_in(store(), context("ctx-a"), {"--cache-to", "type=inline", "-t", image, "--push"});
  ASSERT_EQ(a.exit_code, 0) << a.all();
  auto manifest = run({"curl", "-fsS", "-H", "Accept: application/vnd.oci.image.manifest.v1+json",
                       registry_->url() + "/v2/app/manifests/v1"});
  EXPECT_NE(manifest.out.find("dev.mkimg.cache.v1"), std::string::npos) << manifest.all();

  auto b = build_in(dir("store-b"), context("ctx-b"), {"--cache-from", image});
  ASSERT_EQ(b.exit_code, 0) << b.all();
  // The final stage's steps are in the image; the builder stage is not (as mode=min).
  EXPECT_NE(b.err.find("CACHED RUN cat /proc/sys/kernel/random/uuid > /id2"), std::string::npos)
      << b.err;
  EXPECT_EQ(image_id(b), image_id(a));
}

TEST_F(SharedCacheTest, CacheMountsTravelWhenBothSidesAskForThem) {
  auto make = [&](const std::string& name, const std::string& run) {
    fs::path c = dir(name);
    fs::create_directories(c);
    write_file(c / "Dockerfile", "FROM " + base() +
                                     "\nRUN --mount=type=cache,id=deps,target=/c,uid=1,mode=0750 " +
                                     run + "\n");
    return c;
  };
  fs::path local = dir("ci-cache");
  auto a = build_in(
      store(), make("ctx-a", "sh -c 'echo fetched > /c/dep && mkdir /c/sub && echo x > /c/sub/y'"),
      {"--cache-to", "type=registry,ref=" + cache_repo() + ",mode=max,cache-mounts=true",
       "--cache-to", "type=local,dest=" + local.string() + ",cache-mounts=true"});
  ASSERT_EQ(a.exit_code, 0) << a.all();
  EXPECT_EQ(count(a.err, "exporting cache mount `deps`"), 2) << a.err;

  const std::string reader = "sh -c '(cat /c/dep /c/sub/y; stat -c %u:%a /c) > /seen 2>&1 || true'";
  auto seen = [&](const std::string& store_name, std::vector<std::string> flags) {
    auto b = build_in(dir(store_name), make("ctx-" + store_name, reader), flags);
    EXPECT_EQ(b.exit_code, 0) << b.all();
    return run_mkimg(dir(store_name), {"run", "--rm", image_id(b), "cat", "/seen"}).out;
  };
  // Asked on both sides: the directory comes back, with the mount's owner and mode.
  EXPECT_EQ(
      seen("store-b", {"--cache-from", "type=registry,ref=" + cache_repo() + ",cache-mounts=true"}),
      "fetched\nx\n1:750\n");
  EXPECT_EQ(
      seen("store-c", {"--cache-from", "type=local,src=" + local.string() + ",cache-mounts=true"}),
      "fetched\nx\n1:750\n");
  // Not asked when reading: the step gets an empty directory, as on a new machine.
  std::string empty = seen("store-d", {"--cache-from", cache_repo()});
  EXPECT_EQ(empty.find("fetched"), std::string::npos) << empty;

  // A later writer replaces the content (a cache mount is the last writer's).
  auto again =
      build_in(dir("store-e"),
               make("ctx-e", "sh -c 'echo newer > /c/dep; mkdir -p /c/sub; echo y > /c/sub/y'"),
               {"--cache-to", "type=registry,ref=" + cache_repo() + ",cache-mounts=true"});
  ASSERT_EQ(again.exit_code, 0) << again.all();
  EXPECT_EQ(
      seen("store-f", {"--cache-from", "type=registry,ref=" + cache_repo() + ",cache-mounts=true"}),
      "newer\ny\n1:750\n");
}

TEST_F(SharedCacheTest, BadValuesAreErrorsNamingThem) {
  for (const auto& [flag, value, what] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"--cache-to", "type=s3,ref=x", "unknown type `s3`"},
           {"--cache-to", "type=registry,ref=" + cache_repo() + ",mode=all",
            "mode must be min or max"},
           {"--cache-to", "type=local", "type=local needs dest=DIR"},
           {"--cache-from", "type=local,dest=/x", "type=local needs src=DIR"},
           {"--cache-from", "type=inline", "type=inline is read with --cache-from IMAGE"},
           {"--cache-from", "type=registry,ref=Bad Ref", "not a valid repository reference"},
           {"--cache-to", "type=registry", "type=registry needs ref=REPOSITORY"},
           {"--cache-to", "type=registry,ref=" + cache_repo() + ",cache-mounts=yes",
            "cache-mounts must be true or false"},
           {"--cache-to", "type=inline,cache-mounts=true", "cache-mounts is for type=registry"},
       }) {
    auto r = build_in(dir("store-b"), context("ctx-b"), {flag, value});
    EXPECT_EQ(r.exit_code, 1) << flag << " " << value << r.all();
    EXPECT_NE(r.err.find(flag), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(value), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(what), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace mkimg::testing
