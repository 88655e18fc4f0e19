// Each folder of tests/peers/ built by Docker's BuildKit and by mkimg: the unpacked trees and
// configs must be equal. See docker_engine.h for the picture.
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <ostream>

#include "tests/integration/peers/case_server.h"
#include "tests/integration/peers/peer_world.h"
#include "tests/support/registry_fixture.h"

namespace mkimg::testing::peers {

void PrintTo(const PeerCase& c, std::ostream* os) { *os << c.name; }

namespace {

/// With MKIMG_PEERS_DUMPS=DIR set, each tool's dump is kept as DIR/<case>.<tool>.dump.
void keep_dump(const std::string& name, const std::string& tool, const std::string& dump) {
  const char* dir = std::getenv("MKIMG_PEERS_DUMPS");
  if (dir != nullptr && *dir != '\0')
    write_file(fs::path(dir) / (name + "." + tool + ".dump"), dump);
}

/// Stops the Docker engine when the test program ends.
class StopPeersAtExit : public ::testing::Environment {
 public:
  void TearDown() override { PeerWorld::shut_down_if_made(); }
};
[[maybe_unused]] ::testing::Environment* const stop_peers =
    ::testing::AddGlobalTestEnvironment(new StopPeersAtExit);

class PeerComparison : public ::testing::TestWithParam<PeerCase> {};

TEST_P(PeerComparison, ImageEqualsWhatBuildKitBuilds) {
  PeerCase c = GetParam();
  PeerWorld& world = PeerWorld::get();
  MKIMG_REQUIRE_PEER(world);
  TempDir work;
  ASSERT_EQ(prepare_context(c, work / "context"), "");
  CaseServer server(c, work / "context", work.path());
  ASSERT_EQ(server.failure(), "");

  ToolResult docker = build_with_docker(c, work / "context", work.path());
  ASSERT_EQ(docker.failure, "") << "the Docker side of case " << c.name << " is broken";
  keep_dump(c.name, "docker", docker.dump);
  if (!mkimg_build_available()) GTEST_SKIP() << "mkimg build not available yet";

  auto known = load_known_differences(peers_dir() / "KNOWN_DIFFERENCES");
  auto reason = known.find(c.name);
  ToolResult mkimg = build_with_mkimg(c, work / "context", work.path());
  keep_dump(c.name, "mkimg", mkimg.dump);
  if (reason != known.end() && (!mkimg.failure.empty() || mkimg.dump != docker.dump)) {
    GTEST_SKIP() << "known difference (tests/peers/KNOWN_DIFFERENCES): " << reason->second;
  }
  ASSERT_EQ(mkimg.failure, "") << "case " << c.name;
  if (mkimg.dump != docker.dump) {
    ADD_FAILURE() << "case " << c.name << ": mkimg's image differs from BuildKit's:\n"
                  << unified_diff(docker.dump, mkimg.dump, work.path());
  } else if (reason != known.end()) {
    std::cout << "note: " << c.name << " matches now; remove it from KNOWN_DIFFERENCES\n";
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, PeerComparison, ::testing::ValuesIn(load_peer_cases(peers_dir())),
                         [](const ::testing::TestParamInfo<PeerCase>& param_info) {
                           return param_info.param.name;
                         });

}  // namespace
}  // namespace mkimg::testing::peers
