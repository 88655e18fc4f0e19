// The registry fixture itself: each mode answers /v2/ the way the distribution spec says.
#include "tests/support/registry_fixture.h"

#include <gtest/gtest.h>

namespace mkimg::testing {
namespace {

std::string v2_status(const Registry& reg, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv = {"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}"};
  if (reg.scheme() == "https") argv.insert(argv.end(), {"--cacert", reg.ca_file().string()});
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back(reg.url() + "/v2/");
  return run(argv).out;
}

TEST(RegistryFixture, PlainHttpAnswersV2) {
  Registry reg(RegistryMode::kHttp);
  EXPECT_EQ(v2_status(reg), "200");
}

TEST(RegistryFixture, HttpsIsTrustedThroughItsOwnCa) {
  Registry reg(RegistryMode::kHttps);
  EXPECT_EQ(v2_status(reg), "200");
  EXPECT_NE(run({"curl", "-sf", reg.url() + "/v2/"}).exit_code, 0) << "unknown CA must fail";
}

TEST(RegistryFixture, BasicAuthNeedsTheRightPassword) {
  Registry reg(RegistryMode::kHttpsBasicAuth);
  EXPECT_EQ(v2_status(reg), "401");
  EXPECT_EQ(v2_status(reg, {"-u", reg.user() + ":" + reg.password()}), "200");
  EXPECT_EQ(v2_status(reg, {"-u", reg.user() + ":wrong"}), "401");
}

TEST(RegistryFixture, TokenAuthChallengesAndAcceptsIssuedTokens) {
  Registry reg(RegistryMode::kHttpsTokenAuth);
  EXPECT_EQ(v2_status(reg), "401");
  CommandResult head = run({"curl", "-s", "-D", "-", "-o", "/dev/null", "--cacert",
                            reg.ca_file().string(), reg.url() + "/v2/"});
  auto at = head.out.find("realm=\"http://127.0.0.1:");
  ASSERT_NE(at, std::string::npos) << head.out;
  std::string realm = head.out.substr(at + 7, head.out.find('"', at + 7) - at - 7);
  CommandResult token = run({"curl", "-sf", "-u", reg.user() + ":" + reg.password(),
                             realm + "?service=mkimg-test-registry&scope=repository:a/b:pull"});
  ASSERT_EQ(token.exit_code, 0) << token.all();
  auto json = nlohmann::json::parse(token.out);
  EXPECT_EQ(v2_status(reg, {"-H", "Authorization: Bearer " + json["token"].get<std::string>()}),
            "200");
  EXPECT_EQ(run({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-u", reg.user() + ":wrong",
                 realm + "?service=mkimg-test-registry"})
                .out,
            "401");
}

TEST(RegistryFixture, RestartKeepsStorageAndPort) {
  Registry reg(RegistryMode::kHttp);
  reg.stop();
  EXPECT_NE(v2_status(reg), "200");
  reg.start();
  EXPECT_EQ(v2_status(reg), "200");
}

}  // namespace
}  // namespace mkimg::testing
