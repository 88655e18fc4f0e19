// Registries that misbehave: corrupted blobs are refused and nothing is stored, a cut
// download resumes with Range, a registry killed mid-pull gives a clear error and the next
// pull completes, unknown tags say "not found", credentials never follow a redirect.
#include <gtest/gtest.h>

#include "tests/integration/registry/test_image.h"
#include "tests/support/registry_fixture.h"

namespace mkimg::testing {
namespace {

/// Pushes a fresh image straight to `reg` as `repo:1`; returns it.
TestImage pushed(const Registry& reg, const std::string& repo, std::size_t filler = 0,
                 const std::vector<std::string>& flags = {}) {
  TempDir a;
  TestImage img = make_image(a.path(), "img:1", "fault " + repo, "linux/amd64", filler);
  std::vector<std::string> args = {"push", "img:1", reg.host() + "/" + repo + ":1"};
  args.insert(args.end(), flags.begin(), flags.end());
  CommandResult r = run_mkimg(a.path(), args);
  if (r.exit_code != 0) throw std::runtime_error("push: " + r.all());
  return img;
}

TEST(RegistryFaults, CorruptedBlobIsCaughtByDigestAndNothingIsStored) {
  Registry reg(RegistryMode::kHttp);
  TestImage img = pushed(reg, "victim");
  FaultProxy proxy(reg, ProxyFault::kCorrupt);
  TempDir b;
  CommandResult pull = run_mkimg(b.path(), {"pull", proxy.host() + "/victim:1"});
  EXPECT_EQ(pull.exit_code, 1);
  EXPECT_NE(pull.err.find("digest"), std::string::npos) << pull.err;
  oci::Store store = oci::Store::open(b.path());
  EXPECT_FALSE(store.has_blob(img.layer.digest));
  EXPECT_FALSE(store.resolve(proxy.host() + "/victim:1"));
  for (const auto& e : fs::directory_iterator(b / "tmp")) ADD_FAILURE() << "left " << e.path();
}

TEST(RegistryFaults, CutDownloadResumesWithRange) {
  Registry reg(RegistryMode::kHttp);
  TestImage img = pushed(reg, "cut", 300000);
  FaultProxy proxy(reg, ProxyFault::kTruncateOnce);
  TempDir b;
  CommandResult pull = run_mkimg(b.path(), {"pull", proxy.host() + "/cut:1"});
  ASSERT_EQ(pull.exit_code, 0) << pull.all();
  EXPECT_NE(proxy.log().find("TRUNCATED"), std::string::npos);
  EXPECT_NE(proxy.log().find("range=bytes="), std::string::npos) << proxy.log();
  EXPECT_TRUE(oci::Store::open(b.path()).has_blob(img.layer.digest));
}

TEST(RegistryFaults, RegistryKilledMidPullGivesClearErrorAndNextPullCompletes) {
  Registry reg(RegistryMode::kHttp);
  TestImage img = pushed(reg, "dies", 300000);
  auto proxy = std::make_unique<FaultProxy>(reg, ProxyFault::kStall);
  TempDir b;
  fs::path err = b / "pull.err";
  ChildProcess pull(
      {mkimg_binary(), "--root", (b / "store").string(), "pull", proxy->host() + "/dies:1"}, err);
  ASSERT_TRUE(wait_until([&] { return proxy->log().find("STALLED") != std::string::npos; }))
      << proxy->log();
  reg.stop();
  proxy->stop();
  EXPECT_EQ(pull.wait(), 1);
  std::string message = read_file(err);
  EXPECT_NE(message.find("mkimg: error: pull"), std::string::npos) << message;
  EXPECT_NE(message.find("fetch blob"), std::string::npos) << message;
  EXPECT_FALSE(oci::Store::open(b / "store").has_blob(img.layer.digest));
  reg.start();
  CommandResult again = run_mkimg(b / "store", {"pull", reg.host() + "/dies:1"});
  ASSERT_EQ(again.exit_code, 0) << again.all();
  EXPECT_TRUE(oci::Store::open(b / "store").has_blob(img.layer.digest));
}

TEST(RegistryFaults, UnknownTagSaysNotFoundWithTheReference) {
  Registry reg(RegistryMode::kHttp);
  pushed(reg, "known");
  TempDir b;
  CommandResult pull = run_mkimg(b.path(), {"pull", reg.host() + "/known:nope"});
  EXPECT_EQ(pull.exit_code, 1);
  EXPECT_NE(pull.err.find("not found"), std::string::npos) << pull.err;
  EXPECT_NE(pull.err.find(reg.host() + "/known:nope"), std::string::npos) << pull.err;
}

TEST(RegistryFaults, RedirectToAnotherHostCarriesNoCredentials) {
  Registry reg(RegistryMode::kHttpsBasicAuth);
  TempDir home, a, b;
  std::map<std::string, std::string> env = {{"DOCKER_CONFIG", (home / "docker").string()}};
  std::vector<std::string> ca = {"--tls-ca", reg.ca_file().string()};
  ASSERT_EQ(run_mkimg(a.path(),
                      {"login", "-u", reg.user(), "-p", reg.password(), reg.host(), "--tls-ca",
                       reg.ca_file().string()},
                      env)
                .exit_code,
            0);
  TestImage img = make_image(a.path(), "img:1", "redirected");
  ASSERT_EQ(
      run_mkimg(a.path(),
                {"push", "img:1", reg.host() + "/redir:1", "--tls-ca", reg.ca_file().string()}, env)
          .exit_code,
      0);
  FaultProxy proxy(reg, ProxyFault::kRedirect);
  ASSERT_EQ(
      run_mkimg(a.path(), {"login", "-u", reg.user(), "-p", reg.password(), proxy.host()}, env)
          .exit_code,
      0);
  CommandResult pull = run_mkimg(b.path(), {"pull", proxy.host() + "/redir:1"}, env);
  ASSERT_EQ(pull.exit_code, 0) << pull.all() << proxy.log();
  std::string log = proxy.log();
  std::size_t direct = 0, authorized_manifest = 0;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    if (line.find(" /direct/") != std::string::npos) {
      ++direct;
      EXPECT_NE(line.find("auth=- "), std::string::npos) << line;
      EXPECT_NE(line.find("host=localhost:"), std::string::npos) << line;
    }
    if (line.find("/manifests/") != std::string::npos &&
        line.find("auth=Basic") != std::string::npos) {
      ++authorized_manifest;
    }
  }
  EXPECT_GE(direct, 2u) << log;
  EXPECT_GE(authorized_manifest, 1u) << log;
  EXPECT_TRUE(oci::Store::open(b.path()).has_blob(img.layer.digest));
}

}  // namespace
}  // namespace mkimg::testing
