#include "runtime/bundle_config.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace mkimg::runtime {
namespace {

using json = nlohmann::json;

BundleSpec spec() {
  BundleSpec s;
  s.rootfs = "/tmp/root";
  s.args = {"/bin/sh", "-c", "echo hi"};
  s.env = {"PATH=/bin"};
  s.cwd = "/app";
  s.uid = 1000;
  s.gid = 1001;
  s.additional_gids = {100};
  s.binds.push_back({"/host/hosts", "/etc/hosts", BindMount::Access::kReadWrite});
  return s;
}

std::vector<std::string> namespace_types(const json& j) {
  std::vector<std::string> out;
  for (const auto& n : j["linux"]["namespaces"]) out.push_back(n["type"]);
  return out;
}

TEST(BundleConfig, ProcessCarriesArgsEnvCwdAndUser) {
  auto j = json::parse(bundle_config_json(spec()));
  EXPECT_EQ(j["process"]["args"], json({"/bin/sh", "-c", "echo hi"}));
  EXPECT_EQ(j["process"]["cwd"], "/app");
  EXPECT_EQ(j["process"]["user"]["uid"], 1000);
  EXPECT_EQ(j["process"]["user"]["gid"], 1001);
  EXPECT_EQ(j["process"]["user"]["additionalGids"], json({100}));
  EXPECT_FALSE(j["process"]["terminal"].get<bool>());
  EXPECT_EQ(j["root"]["path"], "/tmp/root");
}

TEST(BundleConfig, TerminalOnlyWhenAsked) {
  auto s = spec();
  s.terminal = true;
  EXPECT_TRUE(json::parse(bundle_config_json(s))["process"]["terminal"].get<bool>());
}

TEST(BundleConfig, HostNetworkHasNoNetworkNamespaceAndNoneHasOne) {
  auto host = namespace_types(json::parse(bundle_config_json(spec())));
  EXPECT_EQ(host, (std::vector<std::string>{"pid", "ipc", "uts", "mount"}));
  auto s = spec();
  s.network = NetworkMode::kNone;
  auto none = namespace_types(json::parse(bundle_config_json(s)));
  EXPECT_NE(std::find(none.begin(), none.end(), "network"), none.end());
  EXPECT_EQ(std::find(none.begin(), none.end(), "user"), none.end());
}

TEST(BundleConfig, DefaultMountsThenBindsInOrder) {
  auto j = json::parse(bundle_config_json(spec()));
  std::vector<std::string> dests;
  for (const auto& m : j["mounts"]) dests.push_back(m["destination"]);
  EXPECT_EQ(dests, (std::vector<std::string>{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue",
                                             "/sys", "/etc/hosts"}));
  EXPECT_EQ(j["mounts"][6]["type"], "bind");
  EXPECT_EQ(j["mounts"][6]["source"], "/host/hosts");
}

TEST(BundleConfig, DockerDefaultCapabilitiesMaskedAndReadonlyPaths) {
  auto j = json::parse(bundle_config_json(spec()));
  auto caps = j["process"]["capabilities"]["bounding"];
  EXPECT_EQ(caps.size(), 14u);
  EXPECT_NE(std::find(caps.begin(), caps.end(), "CAP_CHOWN"), caps.end());
  EXPECT_EQ(std::find(caps.begin(), caps.end(), "CAP_SYS_ADMIN"), caps.end());
  auto masked = j["linux"]["maskedPaths"];
  EXPECT_NE(std::find(masked.begin(), masked.end(), "/proc/kcore"), masked.end());
  auto ro = j["linux"]["readonlyPaths"];
  EXPECT_NE(std::find(ro.begin(), ro.end(), "/proc/sys"), ro.end());
  EXPECT_EQ(j["process"]["rlimits"][0]["type"], "RLIMIT_NOFILE");
}

}  // namespace
}  // namespace mkimg::runtime
