// Transport rules and registries.yaml: which endpoints a registry name gets.
#include "registry/config.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace mkimg::registry {
namespace {

std::vector<std::string> urls(const std::vector<Endpoint>& endpoints) {
  std::vector<std::string> out;
  for (const auto& e : endpoints) out.push_back(e.base_url);
  return out;
}

TEST(TransportRules, RemoteRegistryIsHttpsOnlyAndVerified) {
  auto e = endpoints_for("ghcr.io", Purpose::kPull, {}, {});
  EXPECT_EQ(urls(e), (std::vector<std::string>{"https://ghcr.io"}));
  EXPECT_EQ(e[0].http.verify, TlsVerify::kYes);
  EXPECT_FALSE(e[0].fallback_on_tls_failure);
}

TEST(TransportRules, DockerIoGoesToRegistry1) {
  EXPECT_EQ(urls(endpoints_for("docker.io", Purpose::kPull, {}, {})),
            (std::vector<std::string>{"https://registry-1.docker.io"}));
  EXPECT_EQ(api_host("index.docker.io"), "registry-1.docker.io");
}

TEST(TransportRules, LoopbackTriesVerifiedHttpsThenHttp) {
  for (std::string host : {"127.0.0.1:5000", "localhost:5000", "127.8.9.10", "[::1]:5000"}) {
    auto e = endpoints_for(host, Purpose::kPush, {}, {});
    ASSERT_EQ(e.size(), 2u) << host;
    EXPECT_EQ(e[0].base_url, "https://" + host);
    EXPECT_EQ(e[0].http.verify, TlsVerify::kYes);
    EXPECT_TRUE(e[0].fallback_on_tls_failure);
    EXPECT_EQ(e[1].base_url, "http://" + host);
  }
}

TEST(TransportRules, LoopbackLookalikesAreNotLoopback) {
  EXPECT_FALSE(is_loopback("128.0.0.1"));
  EXPECT_FALSE(is_loopback("localhost.example.com"));
  EXPECT_FALSE(is_loopback("127.0.0.1.nip.io"));
  EXPECT_FALSE(is_loopback("10.0.0.1:5000"));
  EXPECT_TRUE(is_loopback("127.0.0.1"));
}

TEST(TransportRules, InsecureRegistryFlagAllowsUnverifiedTlsThenHttp) {
  RegistryOptions o;
  o.insecure_registries = {"reg.lan:5000", "other.lan"};
  auto e = endpoints_for("reg.lan:5000", Purpose::kPull, {}, o);
  EXPECT_EQ(urls(e), (std::vector<std::string>{"https://reg.lan:5000", "http://reg.lan:5000"}));
  EXPECT_EQ(e[0].http.verify, TlsVerify::kNo);
  EXPECT_EQ(endpoints_for("other.lan:443", Purpose::kPull, {}, o).size(), 2u) << "host without port";
  EXPECT_EQ(endpoints_for("third.lan", Purpose::kPull, {}, o).size(), 1u);
}

TEST(TransportRules, TlsCaFlagAndPerHostCaReachTheEndpoint) {
  RegistryOptions o;
  o.tls_ca_file = "/global.pem";
  RegistriesConfig c =
      parse_registries_config("registries:\n  - host: a.io\n    ca: /a.pem\n", "test");
  EXPECT_EQ(endpoints_for("a.io", Purpose::kPull, c, o)[0].http.ca_file, "/a.pem");
  EXPECT_EQ(endpoints_for("b.io", Purpose::kPull, c, o)[0].http.ca_file, "/global.pem");
}

TEST(RegistriesConfig, MirrorsComeFirstForPullsAndNeverForPushes) {
  RegistriesConfig c = parse_registries_config(
      "registries:\n"
      "  - host: docker.io\n"
      "    mirrors: [mirror.lan:5000, 127.0.0.1:6000]\n"
      "  - host: mirror.lan:5000\n"
      "    insecure: true\n",
      "test");
  EXPECT_EQ(urls(endpoints_for("docker.io", Purpose::kPull, c, {})),
            (std::vector<std::string>{"https://mirror.lan:5000", "http://mirror.lan:5000",
                                      "https://127.0.0.1:6000", "http://127.0.0.1:6000",
                                      "https://registry-1.docker.io"}));
  auto e = endpoints_for("docker.io", Purpose::kPull, c, {});
  EXPECT_EQ(e[0].role, EndpointRole::kMirror);
  EXPECT_EQ(e[0].host, "mirror.lan:5000");
  EXPECT_EQ(urls(endpoints_for("docker.io", Purpose::kPush, c, {})),
            (std::vector<std::string>{"https://registry-1.docker.io"}));
}

TEST(RegistriesConfig, EmptyDocumentIsNoSettings) {
  EXPECT_TRUE(parse_registries_config("", "test").registries.empty());
  EXPECT_TRUE(parse_registries_config("registries: []\n", "test").registries.empty());
}

TEST(RegistriesConfig, UnknownKeysAndBadTypesAreErrorsNamingTheFile) {
  try {
    parse_registries_config("registries:\n  - host: a\n    insecur: true\n", "/etc/x.yaml");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/etc/x.yaml"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("insecur"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse_registries_config("registries:\n  - host: a\n    insecure: maybe\n", "t"),
               Error);
  EXPECT_THROW(parse_registries_config("mirrors: []\n", "t"), Error);
  EXPECT_THROW(parse_registries_config("registries:\n  - insecure: true\n", "t"), Error);
}

TEST(RegistriesConfig, ExplicitMissingFileIsAnErrorDefaultMissingFileIsNot) {
  RegistryOptions o;
  o.registries_config = "/nonexistent/registries.yaml";
  EXPECT_THROW(load_registries_config(o), Error);
}

}  // namespace
}  // namespace mkimg::registry
