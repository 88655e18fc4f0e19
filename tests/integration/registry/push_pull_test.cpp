// Push and pull against a real docker-registry in each of its modes: the round trip keeps
// every digest, peers (skopeo) read what we pushed, we pick the right platform of an index.
#include <gtest/gtest.h>

#include "tests/integration/registry/test_image.h"
#include "tests/support/registry_fixture.h"

namespace mkimg::testing {
namespace {

/// The manifest digest the store tags as `name`, via the oci/ API.
std::string stored_digest(const fs::path& root, const std::string& name) {
  auto d = oci::Store::open(root).resolve(name);
  return d ? d->digest.str() : "";
}

std::vector<std::string> with(std::vector<std::string> args, const std::vector<std::string>& more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

/// Pushes `name` to `dest` and pulls it into a fresh store; both digests must equal.
void round_trip(const Registry& reg, const std::vector<std::string>& flags,
                const std::map<std::string, std::string>& env = {}) {
  TempDir a, b;
  TestImage img = make_image(a.path(), "app:1", "hello registry");
  std::string dest = reg.host() + "/team/app:1";
  CommandResult push = run_mkimg(a.path(), with({"push", "app:1", dest}, flags), env);
  ASSERT_EQ(push.exit_code, 0) << push.all();
  EXPECT_NE(push.out.find(img.manifest.digest.str()), std::string::npos) << push.out;
  CommandResult pull = run_mkimg(b.path(), with({"pull", dest}, flags), env);
  ASSERT_EQ(pull.exit_code, 0) << pull.all();
  EXPECT_EQ(stored_digest(b.path(), dest), img.manifest.digest.str());
  oci::Store store = oci::Store::open(b.path());
  EXPECT_EQ(read_file(store.blob_path(img.layer.digest)),
            read_file(oci::Store::open(a.path()).blob_path(img.layer.digest)));
}

TEST(RegistryPushPull, RoundTripOverPlainHttpKeepsDigests) {
  Registry reg(RegistryMode::kHttp);
  round_trip(reg, {});
}

TEST(RegistryPushPull, HttpsWithSelfSignedCaWorksOnlyWithTheCa) {
  Registry reg(RegistryMode::kHttps);
  TempDir a;
  make_image(a.path(), "app:1", "tls");
  CommandResult no_ca = run_mkimg(a.path(), {"push", "app:1", reg.host() + "/app:1"});
  EXPECT_EQ(no_ca.exit_code, 1);
  EXPECT_NE(no_ca.err.find("certificate"), std::string::npos) << no_ca.err;
  round_trip(reg, {"--tls-ca", reg.ca_file().string()});
}

TEST(RegistryPushPull, BasicAuthOverHttpsNeedsLoginAndRejectsWrongPassword) {
  Registry reg(RegistryMode::kHttpsBasicAuth);
  TempDir home, a;
  std::map<std::string, std::string> env = {{"DOCKER_CONFIG", (home / "docker").string()}};
  std::vector<std::string> ca = {"--tls-ca", reg.ca_file().string()};
  make_image(a.path(), "app:1", "basic");
  CommandResult anon = run_mkimg(a.path(), with({"push", "app:1", reg.host() + "/app:1"}, ca), env);
  EXPECT_EQ(anon.exit_code, 1);
  EXPECT_NE(anon.err.find("401"), std::string::npos) << anon.err;
  CommandResult bad =
      run_mkimg(a.path(), with({"login", "-u", reg.user(), "-p", "wrong", reg.host()}, ca), env);
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("401 Unauthorized"), std::string::npos) << bad.err;
  EXPECT_FALSE(fs::exists(home / "docker/config.json")) << "a refused login stores nothing";
  CommandResult good =
      run_mkimg(a.path(), with({"login", "-u", reg.user(), "--password-stdin", reg.host()}, ca),
                env, reg.password() + "\n");
  ASSERT_EQ(good.exit_code, 0) << good.all();
  EXPECT_NE(read_file(home / "docker/config.json").find(reg.host()), std::string::npos);
  round_trip(reg, ca, env);
  CommandResult out = run_mkimg(a.path(), {"logout", reg.host()}, env);
  EXPECT_EQ(out.exit_code, 0) << out.all();
  EXPECT_EQ(read_file(home / "docker/config.json").find(reg.host()), std::string::npos);
}

TEST(RegistryPushPull, TokenAuthGetsScopedTokensFromTheRealm) {
  Registry reg(RegistryMode::kHttpsTokenAuth);
  TempDir home, a;
  std::map<std::string, std::string> env = {{"DOCKER_CONFIG", (home / "docker").string()}};
  std::vector<std::string> ca = {"--tls-ca", reg.ca_file().string()};
  make_image(a.path(), "app:1", "token");
  CommandResult anon =
      run_mkimg(a.path(), with({"push", "app:1", reg.host() + "/team/app:1"}, ca), env);
  EXPECT_EQ(anon.exit_code, 1);
  EXPECT_NE(anon.err.find("401"), std::string::npos) << anon.err;
  CommandResult bad =
      run_mkimg(a.path(), with({"login", "-u", reg.user(), "-p", "nope", reg.host()}, ca), env);
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("wrong username or password"), std::string::npos) << bad.err;
  ASSERT_EQ(run_mkimg(a.path(),
                      with({"login", "-u", reg.user(), "-p", reg.password(), reg.host()}, ca), env)
                .exit_code,
            0);
  round_trip(reg, ca, env);
  EXPECT_NE(reg.token_log().find("scope=repository%3Ateam%2Fapp%3Apull%2Cpush"), std::string::npos)
      << reg.token_log();
}

TEST(RegistryPushPull, SkopeoInspectsAndCopiesWhatWePushed) {
  Registry reg(RegistryMode::kHttps);
  TempDir a, out;
  TestImage img = make_image(a.path(), "app:1", "for skopeo");
  std::string dest = reg.host() + "/peer/app:1";
  ASSERT_EQ(
      run_mkimg(a.path(), {"push", "app:1", dest, "--tls-ca", reg.ca_file().string()}).exit_code,
      0);
  CommandResult inspect =
      run(with({"skopeo", "inspect"}, with(reg.skopeo_tls_flags(), {"docker://" + dest})));
  ASSERT_EQ(inspect.exit_code, 0) << inspect.all();
  EXPECT_NE(inspect.out.find(img.manifest.digest.str()), std::string::npos) << inspect.out;
  CommandResult copy = run(with(
      {"skopeo", "copy"}, with(reg.skopeo_tls_flags("src-"),
                               {"docker://" + dest, "oci:" + (out / "layout").string() + ":x"})));
  ASSERT_EQ(copy.exit_code, 0) << copy.all();
  EXPECT_TRUE(fs::exists(out / "layout/blobs/sha256" / img.layer.digest.encoded()));
}

TEST(RegistryPushPull, IndexPushedBySkopeoIsPulledForTheRequestedPlatform) {
  Registry reg(RegistryMode::kHttp);
  TempDir a, b, c;
  TestImage amd = make_image(a.path(), "", "amd64 image", "linux/amd64");
  TestImage arm = make_image(a.path(), "", "arm64 image", "linux/arm64/v8");
  make_index(a.path(), "multi:1",
             {{amd.manifest, "linux/amd64"}, {arm.manifest, "linux/arm64/v8"}});
  std::string dest = reg.host() + "/multi:1";
  CommandResult copy = run({"skopeo", "copy", "--all", "--dest-tls-verify=false",
                            "oci:" + (a / "oci").string() + ":multi:1", "docker://" + dest});
  ASSERT_EQ(copy.exit_code, 0) << copy.all();
  CommandResult pull_arm = run_mkimg(b.path(), {"pull", "--platform", "linux/arm64", dest});
  ASSERT_EQ(pull_arm.exit_code, 0) << pull_arm.all();
  EXPECT_EQ(stored_digest(b.path(), dest), arm.manifest.digest.str());
  CommandResult pull_amd = run_mkimg(c.path(), {"pull", "--platform", "linux/amd64", dest});
  ASSERT_EQ(pull_amd.exit_code, 0) << pull_amd.all();
  EXPECT_EQ(stored_digest(c.path(), dest), amd.manifest.digest.str());
  CommandResult none = run_mkimg(c.path(), {"pull", "--platform", "linux/s390x", dest});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.err.find("linux/s390x"), std::string::npos) << none.err;
}

TEST(RegistryPushPull, IndexFromTheStoreIsPushedWithItsManifests) {
  Registry reg(RegistryMode::kHttp);
  TempDir a;
  TestImage amd = make_image(a.path(), "", "amd", "linux/amd64");
  TestImage arm = make_image(a.path(), "", "arm", "linux/arm64/v8");
  oci::Descriptor index = make_index(
      a.path(), "multi:2", {{amd.manifest, "linux/amd64"}, {arm.manifest, "linux/arm64/v8"}});
  CommandResult push = run_mkimg(a.path(), {"push", "multi:2", reg.host() + "/multi:2"});
  ASSERT_EQ(push.exit_code, 0) << push.all();
  CommandResult raw = run(
      {"skopeo", "inspect", "--raw", "--tls-verify=false", "docker://" + reg.host() + "/multi:2"});
  ASSERT_EQ(raw.exit_code, 0) << raw.all();
  EXPECT_EQ(raw.out, oci::Store::open(a.path()).read_blob(index.digest));
}

TEST(RegistryPushPull, LargeBlobsGoUpInChunksAndSecondPushUploadsNothing) {
  Registry reg(RegistryMode::kHttp);
  TempDir a, b;
  TestImage img = make_image(a.path(), "big:1", "big", "linux/amd64", 200000);
  std::string dest = reg.host() + "/big:1";
  CommandResult push = run_mkimg(a.path(), {"push", "--chunk-size", "4096", "big:1", dest});
  ASSERT_EQ(push.exit_code, 0) << push.all();
  ASSERT_EQ(run_mkimg(b.path(), {"pull", dest}).exit_code, 0);
  EXPECT_EQ(stored_digest(b.path(), dest), img.manifest.digest.str());
  CommandResult again = run_mkimg(a.path(), {"push", "big:1", dest});
  ASSERT_EQ(again.exit_code, 0) << again.all();
  EXPECT_NE(again.err.find("exists " + img.layer.digest.str()), std::string::npos) << again.err;
}

TEST(RegistryPushPull, SameRegistryPushMountsBlobsFromTheSourceRepository) {
  Registry reg(RegistryMode::kHttp);
  TempDir a, b;
  TestImage img = make_image(a.path(), "app:1", "mount me");
  std::string src = reg.host() + "/src/app:1";
  ASSERT_EQ(run_mkimg(a.path(), {"push", "app:1", src}).exit_code, 0);
  ASSERT_EQ(run_mkimg(b.path(), {"pull", src}).exit_code, 0);
  CommandResult push = run_mkimg(b.path(), {"push", src, reg.host() + "/dst/app:1"});
  ASSERT_EQ(push.exit_code, 0) << push.all();
  EXPECT_NE(push.err.find("mounted " + img.layer.digest.str() + " from src/app"), std::string::npos)
      << push.err;
}

TEST(RegistryPushPull, PullSkipsBlobsTheStoreHas) {
  Registry reg(RegistryMode::kHttp);
  TempDir a;
  TestImage img = make_image(a.path(), "app:1", "already here");
  std::string dest = reg.host() + "/app:1";
  ASSERT_EQ(run_mkimg(a.path(), {"push", "app:1", dest}).exit_code, 0);
  CommandResult pull = run_mkimg(a.path(), {"pull", dest});
  ASSERT_EQ(pull.exit_code, 0) << pull.all();
  EXPECT_EQ(pull.err.find("fetched " + img.layer.digest.str()), std::string::npos) << pull.err;
  EXPECT_EQ(stored_digest(a.path(), dest), img.manifest.digest.str());
}

}  // namespace
}  // namespace mkimg::testing
