// The harness itself, on the Docker side: treedump.py must show what overlay layers encode
// (whiteouts, opaque directories, hardlinks, special modes, devices), and a case built twice
// by Docker must give the same dump, or the comparison would report noise.
#include <gtest/gtest.h>

#include "tests/integration/peers/peer_world.h"

namespace mkimg::testing::peers {
namespace {

bool has_line_starting(const std::string& dump, const std::string& prefix) {
  return dump.find("\n" + prefix) != std::string::npos;
}

/// A one-build case made from `dockerfile` in a fresh folder under `work`.
PeerCase inline_case(const fs::path& work, const std::string& dockerfile) {
  write_file(work / "case" / "Dockerfile", dockerfile);
  fs::create_directories(work / "context");
  return {"inline", work / "case", {{"peers:latest", "Dockerfile", {}}}};
}

TEST(TreeDump, ShowsWhiteoutsOpaqueDirsHardlinksSpecialModesAndDevices) {
  PeerWorld& world = PeerWorld::get();
  MKIMG_REQUIRE_PEER(world);
  TempDir work;
  PeerCase c = inline_case(work.path(),
                           "FROM busybox:latest\n"
                           "RUN rm /etc/group && rm -rf /home && mkdir /home && touch /home/new"
                           " && ln /etc/passwd /etc/passwd-link && chmod 4755 /bin/busybox"
                           " && mkdir -m 1777 /sticky && mknod /null c 1 3\n");
  ToolResult r = build_with_docker(c, work / "context", work.path());
  ASSERT_EQ(r.failure, "");
  const std::string& d = r.dump;
  EXPECT_FALSE(has_line_starting(d, "/etc/group ")) << d;
  EXPECT_FALSE(has_line_starting(d, "/home/app ")) << "opaque directory not applied\n" << d;
  EXPECT_TRUE(has_line_starting(d, "/home/new file 0644 0:0 ")) << d;
  EXPECT_NE(d.find("links=/etc/passwd,/etc/passwd-link"), std::string::npos) << d;
  EXPECT_TRUE(has_line_starting(d, "/bin/busybox file 4755 0:0 ")) << d;
  EXPECT_TRUE(has_line_starting(d, "/sticky dir 1777 0:0")) << d;
  EXPECT_TRUE(has_line_starting(d, "/null char 0644 0:0 dev=1,3")) << d;
  EXPECT_TRUE(has_line_starting(d, "/bin/sh symlink 0:0 -> /bin/busybox")) << d;
}

TEST(DockerPeer, TwoNoCacheBuildsOfACaseGiveTheSameDump) {
  PeerWorld& world = PeerWorld::get();
  MKIMG_REQUIRE_PEER(world);
  for (PeerCase c : load_peer_cases(peers_dir())) {
    if (c.name != "copy_context_odd" && c.name != "user_workdir") continue;
    for (PeerBuild& b : c.builds) b.flags.push_back("--no-cache");
    TempDir work;
    ASSERT_EQ(prepare_context(c, work / "context"), "");
    ToolResult first = build_with_docker(c, work / "context", work.path());
    ToolResult second = build_with_docker(c, work / "context", work.path());
    ASSERT_EQ(first.failure, "");
    ASSERT_EQ(second.failure, "");
    EXPECT_EQ(first.dump, second.dump) << c.name << ":\n"
                                       << unified_diff(first.dump, second.dump, work.path());
  }
}

}  // namespace
}  // namespace mkimg::testing::peers
