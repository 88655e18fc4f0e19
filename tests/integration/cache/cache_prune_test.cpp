// `mkimg cache prune`: the store's step cache and cache mounts by last use and by size, and a
// registry cache by age, with the real binary, runc and a docker-registry on loopback. Ages
// are made by setting mtimes back (utimensat) in the store, and by building with
// SOURCE_DATE_EPOCH (an entry's `created`) for a registry.
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "tests/support/builder_fixture.h"
#include "tests/support/registry_fixture.h"

namespace mkimg::testing {
namespace {

/// Sets the mtime (and atime) of `path` to `days` days ago.
void age(const fs::path& path, int days) {
  timespec times[2];
  times[0].tv_sec = times[1].tv_sec = ::time(nullptr) - days * 86400L;
  times[0].tv_nsec = times[1].tv_nsec = 0;
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0) << path;
}

bool used_within_an_hour(const fs::path& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && ::time(nullptr) - st.st_mtime < 3600;
}

class CachePruneTest : public BuilderTest {
 protected:
  fs::path steps() const { return store() / "cache/steps"; }

  /// The keys ("sha256:<hex>") of the entries in the store's cache.
  std::set<std::string> entries() const {
    std::set<std::string> out;
    if (!fs::exists(steps())) return out;
    for (const auto& f : fs::directory_iterator(steps())) {
      if (f.path().extension() == ".json") out.insert("sha256:" + f.path().stem().string());
    }
    return out;
  }
  fs::path entry_file(const std::string& key) const { return steps() / (key.substr(7) + ".json"); }
  std::string layer_of(const std::string& key) const {
    return nlohmann::json::parse(read_file(entry_file(key))).at("layer_digest");
  }
  fs::path blob(const std::string& digest) const {
    return store() / "oci/blobs/sha256" / digest.substr(7);
  }
  /// Ages an entry: its file and its parts.
  void age_entry(const std::string& key, int days) {
    age(entry_file(key), days);
    age(steps() / (key.substr(7) + ".parts"), days);
  }

  /// A context directory with `files` (name -> content), the Dockerfile among them.
  fs::path context(const std::string& name, const std::map<std::string, std::string>& files) {
    fs::path c = dir(name);
    fs::create_directories(c);
    for (const auto& [file, content] : files) write_file(c / file, content);
    return c;
  }

  CommandResult prune(std::vector<std::string> flags) {
    flags.insert(flags.begin(), {"cache", "prune"});
    return run_mkimg(store(), flags);
  }

  static std::set<std::string> minus(const std::set<std::string>& a,
                                     const std::set<std::string>& b) {
    std::set<std::string> out;
    std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::inserter(out, out.end()));
    return out;
  }
};

const char* kCopyDockerfile =
    "FROM busybox\n"
    "RUN echo base > /base\n"
    "COPY a.txt /a.txt\n"
    "RUN cat /a.txt > /copy\n";

// Two sets of entries; the first is aged, except the step the second build hits (a hit marks
// its entry used). --older-than removes what was not used since, and the next builds miss
// exactly that.
TEST_F(CachePruneTest, OlderThanRemovesWhatWasNotUsedSinceAndTheNextBuildMissesExactlyThat) {
  fs::path one = context("one", {{"Dockerfile", kCopyDockerfile}, {"a.txt", "one\n"}});
  fs::path two = context("two", {{"Dockerfile", kCopyDockerfile}, {"a.txt", "two\n"}});
  auto first = build(one, {"-t", "p:1"});
  ASSERT_EQ(first.exit_code, 0) << first.all();
  std::set<std::string> first_set = entries();
  ASSERT_EQ(first_set.size(), 3u);
  for (const auto& key : first_set) age_entry(key, 3);

  auto second = build(two, {"-t", "p:2"});
  ASSERT_EQ(second.exit_code, 0) << second.all();
  EXPECT_EQ(count(second.err, "CACHED"), 1) << second.err;  // RUN echo base
  std::set<std::string> hit, old;
  for (const auto& key : first_set) (used_within_an_hour(entry_file(key)) ? hit : old).insert(key);
  ASSERT_EQ(hit.size(), 1u) << "the hit marks its entry used";
  std::set<std::string> second_set = minus(entries(), first_set);
  ASSERT_EQ(second_set.size(), 2u);

  // p:1 goes: the layers of its COPY and RUN are then the cache's only.
  ASSERT_EQ(run_mkimg(store(), {"rmi", "p:1"}).exit_code, 0);
  std::vector<std::string> old_layers;
  for (const auto& key : old) {
    old_layers.push_back(layer_of(key));
    ASSERT_TRUE(fs::exists(blob(old_layers.back())));
  }

  auto dry = prune({"--older-than", "24h", "--dry-run"});
  ASSERT_EQ(dry.exit_code, 0) << dry.all();
  for (const auto& key : old)
    EXPECT_NE(dry.out.find("Would delete cache entry " + key), dry.out.npos);
  EXPECT_NE(dry.out.find("Would delete 2 cache entries"), std::string::npos) << dry.out;
  EXPECT_EQ(entries().size(), 5u) << "a dry run removes nothing";

  auto pruned = prune({"--older-than", "24h"});
  ASSERT_EQ(pruned.exit_code, 0) << pruned.all();
  EXPECT_NE(pruned.out.find("Deleted 2 cache entries\nDeleted 0 cache mounts\n"), std::string::npos)
      << pruned.out;
  EXPECT_NE(pruned.out.find("Total reclaimed space: "), std::string::npos) << pruned.out;
  std::set<std::string> left = entries();
  std::set<std::string> expected = second_set;
  expected.insert(hit.begin(), hit.end());
  EXPECT_EQ(left, expected);
  for (const auto& layer : old_layers) EXPECT_FALSE(fs::exists(blob(layer))) << layer;
  for (const auto& key : second_set) EXPECT_TRUE(fs::exists(blob(layer_of(key)))) << key;

  auto again_two = build(two);
  ASSERT_EQ(again_two.exit_code, 0) << again_two.all();
  EXPECT_EQ(count(again_two.err, "CACHED"), 3) << again_two.err;
  auto again_one = build(one);
  ASSERT_EQ(again_one.exit_code, 0) << again_one.all();
  EXPECT_EQ(count(again_one.err, "CACHED"), 1) << again_one.err;
  EXPECT_NE(again_one.err.find("CACHED RUN echo base"), std::string::npos) << again_one.err;
}

// Three entries of 100 kB layers each, used 3, 2 and 0 days ago, no image keeps them:
// --keep-storage 150k removes the two least recently used.
TEST_F(CachePruneTest, KeepStorageRemovesTheLeastRecentlyUsedUntilTheRestFits) {
  std::vector<std::string> keys;
  for (const char* name : {"a", "b", "c"}) {
    fs::path ctx = context(name, {{"Dockerfile", std::string("FROM busybox\nRUN head -c 100000 "
                                                             "/dev/urandom > /big-") +
                                                     name + "\n"}});
    std::set<std::string> before = entries();
    auto built = build(ctx, {"-t", std::string("k:") + name});
    ASSERT_EQ(built.exit_code, 0) << built.all();
    auto added = minus(entries(), before);
    ASSERT_EQ(added.size(), 1u);
    keys.push_back(*added.begin());
    ASSERT_EQ(run_mkimg(store(), {"rmi", std::string("k:") + name}).exit_code, 0);
  }
  age_entry(keys[0], 3);
  age_entry(keys[1], 2);

  auto pruned = prune({"--keep-storage", "150k"});
  ASSERT_EQ(pruned.exit_code, 0) << pruned.all();
  EXPECT_NE(pruned.out.find("Deleted 2 cache entries"), std::string::npos) << pruned.out;
  EXPECT_EQ(entries(), std::set<std::string>{keys[2]});
  EXPECT_TRUE(fs::exists(blob(layer_of(keys[2]))));

  // What is left fits: nothing more goes.
  auto again = prune({"--keep-storage", "150k"});
  ASSERT_EQ(again.exit_code, 0) << again.all();
  EXPECT_NE(again.out.find("Deleted 0 cache entries"), std::string::npos) << again.out;
  auto rebuilt = build(dir("c"));
  EXPECT_EQ(count(rebuilt.err, "CACHED"), 1) << rebuilt.err;
}

std::string mount_dir_name(const std::string& id) {
  CommandResult r = run({"sh", "-c", "printf %s '" + id + "' | sha256sum | cut -c1-64"});
  return r.out.substr(0, 64);
}

// RUN --mount=type=cache directories go by the time of their last use too; a step that
// uses one marks it used.
TEST_F(CachePruneTest, CacheMountsNotUsedSinceAreRemoved) {
  fs::path both =
      context("both", {{"Dockerfile",
                        "FROM busybox\n"
                        "RUN --mount=type=cache,id=old,target=/c echo kept > /c/f\n"
                        "RUN --mount=type=cache,id=used,target=/c echo kept > /c/f\n"}});
  ASSERT_EQ(build(both).exit_code, 0);
  fs::path mounts = store() / "cache/mounts";
  ASSERT_TRUE(fs::exists(mounts / mount_dir_name("old") / "f"));
  age(mounts / mount_dir_name("old"), 3);
  age(mounts / mount_dir_name("used"), 3);
  fs::path uses = context("uses", {{"Dockerfile",
                                    "FROM busybox\n"
                                    "RUN --mount=type=cache,id=used,target=/c cat /c/f\n"}});
  auto used = build(uses);
  ASSERT_EQ(used.exit_code, 0) << used.all();

  auto pruned = prune({"--older-than", "2d"});
  ASSERT_EQ(pruned.exit_code, 0) << pruned.all();
  EXPECT_NE(pruned.out.find("Deleted 1 cache mount\n"), std::string::npos) << pruned.out;
  EXPECT_FALSE(fs::exists(mounts / mount_dir_name("old")));
  EXPECT_TRUE(fs::exists(mounts / mount_dir_name("used") / "f"));
  // The entries were made today: they stay.
  EXPECT_NE(pruned.out.find("Deleted 0 cache entries"), std::string::npos) << pruned.out;

  fs::path reads = context("reads", {{"Dockerfile",
                                      "FROM busybox\n"
                                      "RUN --mount=type=cache,id=old,target=/c ls /c > /seen\n"}});
  ASSERT_EQ(build(reads, {"-t", "seen"}).exit_code, 0);
  auto seen = run_image("seen", {"cat", "/seen"});
  EXPECT_EQ(seen.out, "") << "a fresh, empty cache mount";
}

// Without a filter the whole cache goes (as `docker buildx prune`), but never an image.
TEST_F(CachePruneTest, WithoutAFilterTheWholeCacheGoesAndImagesStay) {
  fs::path ctx = context("ctx", {{"Dockerfile",
                                  "FROM busybox\n"
                                  "RUN --mount=type=cache,target=/c echo x > /c/x\n"
                                  "COPY a.txt /a.txt\n"
                                  "RUN cat /a.txt > /copy\n"},
                                 {"a.txt", "kept\n"}});
  ASSERT_EQ(build(ctx, {"-t", "img:1"}).exit_code, 0);
  auto pruned = prune({});
  ASSERT_EQ(pruned.exit_code, 0) << pruned.all();
  EXPECT_NE(pruned.out.find("Deleted 3 cache entries\nDeleted 1 cache mount\n"), std::string::npos)
      << pruned.out;
  EXPECT_TRUE(entries().empty());
  EXPECT_TRUE(fs::is_empty(store() / "cache/mounts"));
  EXPECT_TRUE(fs::is_empty(store() / "cache/children"));
  auto ran = run_image("img:1", {"cat", "/copy"});
  EXPECT_EQ(ran.out, "kept\n") << ran.all();
  auto rebuilt = build(ctx);
  ASSERT_EQ(rebuilt.exit_code, 0) << rebuilt.all();
  EXPECT_EQ(count(rebuilt.err, "CACHED"), 0) << rebuilt.err;
}

// --- a registry cache -------------------------------------------------------------------------

class RegistryCachePruneTest : public CachePruneTest {
 protected:
  void start(RegistryDeletes deletes) {
    registry_ = std::make_unique<Registry>(RegistryMode::kHttp, deletes);
  }
  std::string repo() const { return registry_->host() + "/cache"; }

  std::set<std::string> tags() const {
    auto r = run({"curl", "-fsS", registry_->url() + "/v2/cache/tags/list"});
    std::set<std::string> out;
    auto j = nlohmann::json::parse(r.out);
    if (j["tags"].is_array()) {
      for (const auto& t : j["tags"]) out.insert(t.get<std::string>());
    }
    return out;
  }

  /// Builds a one-COPY Dockerfile with `content` and exports its entry to each cache ref;
  /// `epoch`: SOURCE_DATE_EPOCH, so the entry's `created` (empty: now).
  CommandResult build_exporting(const std::string& name, const std::string& content,
                                const std::string& epoch, const std::vector<std::string>& refs,
                                const std::string& tag = "") {
    fs::path ctx =
        context(name, {{"Dockerfile", "FROM busybox\nCOPY a.txt /a.txt\n"}, {"a.txt", content}});
    std::vector<std::string> args{"build", "--progress", "plain"};
    for (const auto& ref : refs)
      args.insert(args.end(), {"--cache-to", "type=registry,ref=" + ref});
    if (!tag.empty()) args.insert(args.end(), {"-t", tag});
    args.push_back(ctx.string());
    std::map<std::string, std::string> env;
    if (!epoch.empty()) env["SOURCE_DATE_EPOCH"] = epoch;
    return run_mkimg(store(), args, env);
  }

  CommandResult prune_registry(std::vector<std::string> flags) {
    flags.insert(flags.begin(), {"--ref", repo()});
    return prune(flags);
  }

  /// The key tag ("sha256-<hex>", after `prefix`) a build's one new entry got.
  std::string new_key_tag(const std::set<std::string>& before, const std::string& prefix = "") {
    auto added = minus(entries(), before);
    EXPECT_EQ(added.size(), 1u);
    return added.empty() ? "" : prefix + "sha256-" + added.begin()->substr(7);
  }

  std::unique_ptr<Registry> registry_;
};

// Old entries go, new ones stay, and so does every tag that is not a cache entry: an image
// tagged `latest`, and an image pushed under a tag that looks like a key tag (made in 1970,
// so a prune that took every `sha256-...` tag, or read any config's `created`, would delete
// it). An old entry that another cache of the repository names too goes from both, named.
TEST_F(RegistryCachePruneTest, DeletesOldEntriesAndNothingThatIsNotACacheEntry) {
  start(RegistryDeletes::kAllowed);
  auto before = entries();
  auto old_build = build_exporting("old", "old\n", "86400", {repo()}, "old:1");
  ASSERT_EQ(old_build.exit_code, 0) << old_build.all();
  std::string old_tag = new_key_tag(before);
  before = entries();
  auto shared_build = build_exporting("shared", "shared\n", "86400", {repo(), repo() + ":other"});
  ASSERT_EQ(shared_build.exit_code, 0) << shared_build.all();
  std::string shared_tag = new_key_tag(before);
  std::string other_tag = "other-" + shared_tag;
  before = entries();
  auto new_build = build_exporting("new", "new\n", "", {repo()});
  ASSERT_EQ(new_build.exit_code, 0) << new_build.all();
  std::string new_tag = new_key_tag(before);

  std::string fake_tag = "sha256-" + std::string(64, 'a');
  for (const std::string& tag : {std::string("latest"), fake_tag}) {
    auto pushed = run_mkimg(store(), {"push", "old:1", repo() + ":" + tag});
    ASSERT_EQ(pushed.exit_code, 0) << pushed.all();
  }
  ASSERT_EQ(tags(),
            (std::set<std::string>{old_tag, shared_tag, other_tag, new_tag, "latest", fake_tag}));

  auto dry = prune_registry({"--older-than", "24h", "--dry-run"});
  ASSERT_EQ(dry.exit_code, 0) << dry.all();
  EXPECT_NE(dry.out.find("Would delete " + old_tag), std::string::npos) << dry.out;
  EXPECT_EQ(tags().size(), 6u) << "a dry run deletes nothing";

  auto pruned = prune_registry({"--older-than", "24h"});
  ASSERT_EQ(pruned.exit_code, 0) << pruned.all();
  EXPECT_NE(pruned.out.find("Deleted " + old_tag), std::string::npos) << pruned.out;
  EXPECT_NE(pruned.out.find("and with it " + other_tag), std::string::npos) << pruned.out;
  EXPECT_NE(pruned.out.find("Skipped " + fake_tag + ": not a cache entry"), std::string::npos)
      << pruned.out;
  EXPECT_NE(pruned.out.find("Deleted 2 cache entries and 0 cache mounts from " + repo()),
            std::string::npos)
      << pruned.out;
  EXPECT_NE(pruned.out.find("garbage collection"), std::string::npos) << pruned.out;
  EXPECT_EQ(tags(), (std::set<std::string>{new_tag, "latest", fake_tag}));
  // The images are whole.
  for (const std::string& tag : {std::string("latest"), fake_tag}) {
    auto pulled = run_mkimg(dir("store-b"), {"pull", repo() + ":" + tag});
    EXPECT_EQ(pulled.exit_code, 0) << pulled.all();
  }

  // A cache with a tag of its own is pruned on its own: `REPO:other` has nothing left.
  auto other = prune({"--ref", repo() + ":other"});
  ASSERT_EQ(other.exit_code, 0) << other.all();
  EXPECT_NE(other.out.find("Deleted 0 cache entries"), std::string::npos) << other.out;
  EXPECT_EQ(tags(), (std::set<std::string>{new_tag, "latest", fake_tag}));
}

// Cache mounts exported with cache-mounts=true (`mount-<hex>`) go by the time they were written,
// like entries; an image under a mount-like tag stays.
TEST_F(RegistryCachePruneTest, OldCacheMountArtifactsGoTooAndAMountLikeImageTagStays) {
  start(RegistryDeletes::kAllowed);
  auto with_mount = [&](const std::string& name, const std::string& id, const std::string& epoch) {
    fs::path ctx = context(name, {{"Dockerfile", "FROM busybox\nRUN --mount=type=cache,id=" + id +
                                                     ",target=/c echo " + id + " > /c/f\n"}});
    std::map<std::string, std::string> env;
    if (!epoch.empty()) env["SOURCE_DATE_EPOCH"] = epoch;
    return run_mkimg(store(),
                     {"build", "--progress", "plain", "-t", name, "--cache-to",
                      "type=registry,ref=" + repo() + ",cache-mounts=true", ctx.string()},
                     env);
  };
  auto old_build = with_mount("old", "old-id", "86400");
  ASSERT_EQ(old_build.exit_code, 0) << old_build.all();
  auto new_build = with_mount("new", "new-id", "");
  ASSERT_EQ(new_build.exit_code, 0) << new_build.all();
  std::string old_mount = "mount-" + mount_dir_name("old-id");
  std::string new_mount = "mount-" + mount_dir_name("new-id");
  std::string fake_mount = "mount-" + std::string(64, 'c');
  auto pushed = run_mkimg(store(), {"push", "old", repo() + ":" + fake_mount});
  ASSERT_EQ(pushed.exit_code, 0) << pushed.all();
  std::set<std::string> before = tags();
  ASSERT_EQ(before.size(), 5u);  // two entries, two mounts, the image
  ASSERT_TRUE(before.contains(old_mount) && before.contains(new_mount));

  auto pruned = prune_registry({"--older-than", "24h"});
  ASSERT_EQ(pruned.exit_code, 0) << pruned.all();
  EXPECT_NE(pruned.out.find("Deleted " + old_mount), std::string::npos) << pruned.out;
  EXPECT_NE(pruned.out.find("Skipped " + fake_mount + ": not a cache mount"), std::string::npos)
      << pruned.out;
  EXPECT_NE(pruned.out.find("Deleted 1 cache entry and 1 cache mount from"), std::string::npos)
      << pruned.out;
  std::set<std::string> after = tags();
  EXPECT_EQ(after.size(), 3u);
  EXPECT_TRUE(after.contains(new_mount) && after.contains(fake_mount));
  EXPECT_FALSE(after.contains(old_mount));
}

// docker-registry without REGISTRY_STORAGE_DELETE_ENABLED answers 405: the prune says which
// registry refuses, lists what it could not delete, and fails.
TEST_F(RegistryCachePruneTest, ARegistryThatRefusesDeletesIsNamedAndThePruneFails) {
  start(RegistryDeletes::kRefused);
  auto before = entries();
  auto old_build = build_exporting("old", "old\n", "86400", {repo()});
  ASSERT_EQ(old_build.exit_code, 0) << old_build.all();
  std::string old_tag = new_key_tag(before);

  auto pruned = prune_registry({"--older-than", "24h"});
  EXPECT_EQ(pruned.exit_code, 1) << pruned.all();
  EXPECT_NE(pruned.out.find("Not deleted " + old_tag), std::string::npos) << pruned.out;
  EXPECT_NE(pruned.err.find("registry " + registry_->host() + " does not allow deleting"),
            std::string::npos)
      << pruned.err;
  EXPECT_NE(pruned.err.find("REGISTRY_STORAGE_DELETE_ENABLED"), std::string::npos) << pruned.err;
  EXPECT_EQ(tags(), std::set<std::string>{old_tag});
}

}  // namespace
}  // namespace mkimg::testing
