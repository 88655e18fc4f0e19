#include "runtime/bundle_config.h"

#include <gtest/gtest.h>

#include <cctype>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/in_root.h"
#include "tests/support/harness.h"

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

std::string shm_size_option(const json& j) {
  for (const auto& m : j["mounts"]) {
    if (m["destination"] != "/dev/shm") continue;
    for (const auto& o : m["options"]) {
      if (o.get<std::string>().rfind("size=", 0) == 0) return o;
    }
  }
  return "";
}

TEST(BundleConfig, ShmIsDockersSixtyFourMibUnlessAsked) {
  EXPECT_EQ(shm_size_option(json::parse(bundle_config_json(spec()))), "size=65536k");
  auto s = spec();
  s.shm_size = std::uint64_t{1} << 30;
  EXPECT_EQ(shm_size_option(json::parse(bundle_config_json(s))), "size=1048576k");
  s.shm_size = 1000000;
  EXPECT_EQ(shm_size_option(json::parse(bundle_config_json(s))), "size=1000000");
}

TEST(BundleConfig, UlimitsReplaceTheDefaultOfTheirTypeAndAddTheOthers) {
  auto s = spec();
  s.rlimits = {{"RLIMIT_NPROC", 100, 200}, {"RLIMIT_NOFILE", 512, kUnlimited}};
  auto limits = json::parse(bundle_config_json(s))["process"]["rlimits"];
  ASSERT_EQ(limits.size(), 2u) << limits;
  EXPECT_EQ(limits[0], json({{"type", "RLIMIT_NPROC"}, {"soft", 100}, {"hard", 200}}));
  EXPECT_EQ(limits[1]["type"], "RLIMIT_NOFILE");
  EXPECT_EQ(limits[1]["soft"], 512);
  EXPECT_EQ(limits[1]["hard"].get<std::uint64_t>(), 18446744073709551615ull);  // RLIM_INFINITY
}

TEST(BundleConfig, HostsFileHasLocalhostThenTheExtraHostsInOrder) {
  auto s = spec();
  EXPECT_EQ(hosts_file(s),
            "127.0.0.1\tlocalhost mkimg\n::1\tlocalhost ip6-localhost ip6-loopback\n");
  s.extra_hosts = {{"db", "10.0.0.5"}, {"v6.local", "fd00::1"}};
  EXPECT_EQ(hosts_file(s),
            "127.0.0.1\tlocalhost mkimg\n::1\tlocalhost ip6-localhost ip6-loopback\n"
            "10.0.0.5\tdb\nfd00::1\tv6.local\n");
}

using mkimg::testing::error_of;

TEST(ParseUlimit, TakesDockersNamesSoftAndHard) {
  EXPECT_EQ(parse_ulimit("nofile=1024:2048"), (Rlimit{"RLIMIT_NOFILE", 1024, 2048}));
  EXPECT_EQ(parse_ulimit("nproc=300"), (Rlimit{"RLIMIT_NPROC", 300, 300}));
  EXPECT_EQ(parse_ulimit("core=0:-1"), (Rlimit{"RLIMIT_CORE", 0, kUnlimited}));
  EXPECT_EQ(parse_ulimit("memlock=-1"), (Rlimit{"RLIMIT_MEMLOCK", kUnlimited, kUnlimited}));
  EXPECT_EQ(parse_ulimit("stack=8388608:-1").type, "RLIMIT_STACK");
  for (const char* name : {"cpu", "data", "fsize", "locks", "msgqueue", "nice", "rss", "rtprio",
                           "rttime", "sigpending"}) {
    EXPECT_EQ(
        parse_ulimit(std::string(name) + "=1").type,
        "RLIMIT_" +
            [&] {
              std::string up(name);
              for (auto& c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
              return up;
            }())
        << name;
  }
}

TEST(ParseUlimit, RefusesWhatDockerRefusesNamingTheFlagAndTheValue) {
  struct Case {
    const char* text;
    const char* says;
  } cases[] = {
      {"nofile", "expected NAME=SOFT[:HARD]"},
      {"as=1", "unknown limit `as`"},  // docker leaves "as" out too
      {"NOFILE=1", "unknown limit `NOFILE`"},
      {"nofile=", "is not a limit"},
      {"nofile=abc", "`abc` is not a limit"},
      {"nofile=10:x", "`x` is not a limit"},
      {"nofile=-2", "`-2` is not a limit"},
      {"nofile=1:2:3", "`2:3` is not a limit"},
      {"nofile=2048:1024", "the soft limit is above the hard limit"},
      {"nofile=-1:1024", "the soft limit is above the hard limit"},
  };
  for (const auto& c : cases) {
    std::string message = error_of([&] { parse_ulimit(c.text); });
    EXPECT_EQ(message.rfind("--ulimit `" + std::string(c.text) + "`: ", 0), 0u) << message;
    EXPECT_NE(message.find(c.says), std::string::npos) << c.text << ": " << message;
  }
}

TEST(CannotGrant, OpenFilesAboveTheKernelsNrOpenNamingIt) {
  std::uint64_t nr_open = std::stoull(read_host_file("/proc/sys/fs/nr_open"));
  auto why = cannot_grant({"RLIMIT_NOFILE", 1024, nr_open + 1});
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("/proc/sys/fs/nr_open"), std::string::npos) << *why;
  EXPECT_TRUE(cannot_grant({"RLIMIT_NOFILE", 1024, kUnlimited}));
  EXPECT_FALSE(cannot_grant({"RLIMIT_NOFILE", 1024, 1024}));
  EXPECT_FALSE(cannot_grant({"RLIMIT_CORE", 0, 0}));  // lowering is always allowed
}

TEST(ParseAddHost, TakesNameColonOrEqualsAndIpv4OrIpv6) {
  EXPECT_EQ(parse_add_host("db:10.0.0.5"), (HostEntry{"db", "10.0.0.5"}));
  EXPECT_EQ(parse_add_host("db=10.0.0.5"), (HostEntry{"db", "10.0.0.5"}));
  EXPECT_EQ(parse_add_host("v6:::1"), (HostEntry{"v6", "::1"}));  // the first ':' ends the name
  EXPECT_EQ(parse_add_host("v6=fd00::1"), (HostEntry{"v6", "fd00::1"}));
  EXPECT_EQ(parse_add_host("v6:[2001:db8::1]"), (HostEntry{"v6", "2001:db8::1"}));
  EXPECT_EQ(parse_add_host("my_host.example-1.com:1.2.3.4").name, "my_host.example-1.com");
}

TEST(ParseAddHost, RefusesBadNamesBadAddressesAndHostGateway) {
  struct Case {
    const char* text;
    const char* says;
  } cases[] = {
      {"db", "expected NAME:IP or NAME=IP"},
      {":1.2.3.4", "`` is not a host name"},
      {"a b:1.2.3.4", "`a b` is not a host name"},
      {"a#b=1.2.3.4", "`a#b` is not a host name"},
      {"db:", "`` is not an IPv4 or IPv6 address"},
      {"db:10.0.0", "`10.0.0` is not an IPv4 or IPv6 address"},
      {"db:300.1.1.1", "`300.1.1.1` is not an IPv4 or IPv6 address"},
      {"db:example.com", "`example.com` is not an IPv4 or IPv6 address"},
      {"db=fe80::1%eth0", "`fe80::1%eth0` is not an IPv4 or IPv6 address"},
      {"db:host-gateway", "host-gateway is not supported"},
  };
  for (const auto& c : cases) {
    std::string message = error_of([&] { parse_add_host(c.text); });
    EXPECT_EQ(message.rfind("--add-host `" + std::string(c.text) + "`: ", 0), 0u) << message;
    EXPECT_NE(message.find(c.says), std::string::npos) << c.text << ": " << message;
  }
}

}  // namespace
}  // namespace mkimg::runtime
