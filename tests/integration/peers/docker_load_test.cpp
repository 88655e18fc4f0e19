// Docker's engine reads what mkimg writes: a docker-archive from `mkimg save` loads with
// `docker load`, keeps its image id, and runs.
#include <gtest/gtest.h>

#include "tests/integration/peers/peer_world.h"

namespace mkimg::testing::peers {
namespace {

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

TEST(DockerLoad, SavedDockerArchiveOfABuiltImageLoadsAndRunsInDocker) {
  PeerWorld& world = PeerWorld::get();
  MKIMG_REQUIRE_PEER(world);
  if (!mkimg_build_available()) GTEST_SKIP() << "mkimg build not available";
  TempDir work;
  fs::path store = work / "store";
  ASSERT_EQ(run_mkimg(store, {"import", world.base_root().string(), "busybox:latest"}).exit_code,
            0);
  write_file(work / "ctx" / "Dockerfile",
             "FROM busybox:latest\nCOPY hello.txt /hello.txt\n"
             "RUN echo built >> /hello.txt\nCMD [\"cat\", \"/hello.txt\"]\n");
  write_file(work / "ctx" / "hello.txt", "hello from mkimg\n");
  CommandResult built = run_mkimg(
      store, {"build", "--progress", "quiet", "-t", "mkimg-load:v1", (work / "ctx").string()});
  ASSERT_EQ(built.exit_code, 0) << built.all();
  fs::path archive = work / "image.tar";
  CommandResult saved =
      run_mkimg(store, {"save", "--format", "docker", "mkimg-load:v1", "-o", archive.string()});
  ASSERT_EQ(saved.exit_code, 0) << saved.all();

  CommandResult loaded = world.docker().client({"load", "-i", archive.string()});
  ASSERT_EQ(loaded.exit_code, 0) << loaded.all();
  EXPECT_NE(loaded.out.find("mkimg-load:v1"), std::string::npos) << loaded.all();
  CommandResult id = world.docker().client({"image", "inspect", "-f", "{{.Id}}", "mkimg-load:v1"});
  ASSERT_EQ(id.exit_code, 0) << id.all();
  EXPECT_EQ(trimmed(id.out), trimmed(built.out)) << "docker's image id is mkimg's config digest";
  CommandResult ran = world.docker().client({"run", "--rm", "--network", "none", "mkimg-load:v1"});
  ASSERT_EQ(ran.exit_code, 0) << ran.all();
  EXPECT_EQ(ran.out, "hello from mkimg\nbuilt\n");
  world.docker().client({"rmi", "-f", "mkimg-load:v1"});
}

}  // namespace
}  // namespace mkimg::testing::peers
