// A debug log of a push and a pull against a Basic-auth registry tells the requests (method,
// URL, status), the auth challenge and the blob sizes, and never a credential: no
// Authorization header, no password, no base64 of user:password.
#include <gtest/gtest.h>

#include "registry/encoding.h"
#include "tests/integration/registry/test_image.h"
#include "tests/support/registry_fixture.h"

namespace mkimg::testing {
namespace {

void expect_no_secret(const std::string& log, const Registry& reg) {
  EXPECT_EQ(log.find(reg.password()), std::string::npos) << log;
  EXPECT_EQ(log.find(registry::base64_encode(reg.user() + ":" + reg.password())), std::string::npos)
      << log;
  for (const char* word : {"Authorization", "authorization"}) {
    EXPECT_EQ(log.find(word), std::string::npos) << word << " in\n" << log;
  }
}

TEST(RegistryDebugLog, BasicAuthPushAndPullLogRequestsButNoCredentials) {
  Registry reg(RegistryMode::kHttpsBasicAuth);
  TempDir home, a, b;
  std::map<std::string, std::string> env = {{"DOCKER_CONFIG", (home / "docker").string()},
                                            {"MKIMG_LOG_LEVEL", "trace"}};
  std::vector<std::string> ca = {"--tls-ca", reg.ca_file().string()};
  TestImage img = make_image(a.path(), "app:1", "debug log");
  CommandResult login = run_mkimg(a.path(),
                                  {"login", "-u", reg.user(), "--password-stdin", reg.host(),
                                   "--tls-ca", reg.ca_file().string()},
                                  env, reg.password() + "\n");
  ASSERT_EQ(login.exit_code, 0) << login.all();
  expect_no_secret(login.all(), reg);

  std::string dest = reg.host() + "/team/app:1";
  CommandResult push =
      run_mkimg(a.path(), {"push", "app:1", dest, "--tls-ca", reg.ca_file().string()}, env);
  ASSERT_EQ(push.exit_code, 0) << push.all();
  expect_no_secret(push.all(), reg);
  EXPECT_NE(push.err.find("mkimg: [debug] http PUT https://" + reg.host() + "/v2/team/app/"),
            std::string::npos)
      << push.err;
  EXPECT_NE(push.err.find("mkimg: [debug] blob " + img.layer.digest.str() + ": uploaded " +
                          std::to_string(img.layer.size) + " bytes"),
            std::string::npos)
      << push.err;

  CommandResult pull = run_mkimg(
      b.path(), {"--log-level", "debug", "pull", dest, "--tls-ca", reg.ca_file().string()}, env);
  ASSERT_EQ(pull.exit_code, 0) << pull.all();
  expect_no_secret(pull.all(), reg);
  EXPECT_NE(pull.err.find(" -> 401\n"), std::string::npos) << pull.err;
  EXPECT_NE(pull.err.find("mkimg: [debug] http GET https://" + reg.host() +
                          "/v2/team/app/manifests/1 -> 200"),
            std::string::npos)
      << pull.err;
  EXPECT_NE(pull.err.find("mkimg: [debug] auth challenge from " + reg.host() + ": Basic"),
            std::string::npos)
      << pull.err;
  EXPECT_NE(pull.err.find("mkimg: [debug] blob " + img.layer.digest.str() + ": downloaded " +
                          std::to_string(img.layer.size) + " bytes"),
            std::string::npos)
      << pull.err;
}

}  // namespace
}  // namespace mkimg::testing
