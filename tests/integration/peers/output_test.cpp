// `build --output type=local` and `type=tar` against Docker's: the same Dockerfile built by
// `docker build -o` (BuildKit) and by mkimg must give the same tree (paths, types, modes,
// owners, contents, link targets, hardlinks; times left out), and the same tree once each tar
// is unpacked, owners kept.
#include <gtest/gtest.h>

#include "tests/integration/peers/peer_world.h"
#include "tests/support/tree_listing.h"

namespace mkimg::testing::peers {
namespace {

using snapshot::testing::list_tree;
using snapshot::testing::Times;

const char* const kDockerfile =
    "FROM busybox:latest AS build\n"
    "RUN mkdir -p /out/sub && echo hello > /out/hello && chmod 0640 /out/hello"
    " && echo key > /out/sub/key && chown 1000:1000 /out/sub/key && chmod 4755 /out/sub"
    " && ln -s hello /out/link && ln /out/hello /out/hard && echo doomed > /out/doomed\n"
    "RUN rm /out/doomed /etc/group && rm -rf /home\n"
    "FROM build AS final\n"
    "RUN echo final > /out/final\n";

class OutputPeer : public ::testing::Test {
 protected:
  void SetUp() override {
    write_file(work_ / "case" / "Dockerfile", kDockerfile);
    fs::create_directories(work_ / "context");
  }

  CommandResult docker_build(const std::string& output) {
    return PeerWorld::get().docker().client({"build", "--progress", "plain", "--network", "host",
                                             "-f", (work_ / "case" / "Dockerfile").string(), "-o",
                                             output, (work_ / "context").string()});
  }

  CommandResult mkimg_build(const std::string& output) {
    fs::path store = work_ / "mkimg-store";
    if (!fs::exists(store)) {
      CommandResult imported =
          run_mkimg(store, {"import", PeerWorld::get().base_root().string(), "busybox:latest"});
      if (imported.exit_code != 0) return imported;
    }
    return run_mkimg(
        store, {"build", "--progress", "plain", "-f", (work_ / "case" / "Dockerfile").string(),
                "-o", output, (work_ / "context").string()});
  }

  /// `tar` unpacks `file` into `dir` as root does: owners, modes and xattrs kept.
  static void untar(const fs::path& file, const fs::path& dir) {
    fs::create_directories(dir);
    CommandResult r =
        run({"tar", "--numeric-owner", "--same-owner", "-xpf", file.string(), "-C", dir.string()});
    ASSERT_EQ(r.exit_code, 0) << r.all();
  }

  TempDir work_;
};

TEST_F(OutputPeer, LocalOutputIsTheTreeDockerWrites) {
  PeerWorld& world = PeerWorld::get();
  MKIMG_REQUIRE_PEER(world);
  fs::path docker_out = work_ / "docker-out" / "dir", mkimg_out = work_ / "mkimg-out" / "dir";
  CommandResult d = docker_build("type=local,dest=" + docker_out.string());
  ASSERT_EQ(d.exit_code, 0) << d.all();
  CommandResult m = mkimg_build("type=local,dest=" + mkimg_out.string());
  ASSERT_EQ(m.exit_code, 0) << m.all();
  std::string docker_tree = list_tree(docker_out, Times::kIgnore);
  EXPECT_NE(docker_tree.find("out/final "), std::string::npos) << docker_tree;
  // Docker's client makes every file its own (root here), whatever the image's owner.
  EXPECT_NE(docker_tree.find("out/sub/key mode=100644 owner=0:0 "), std::string::npos)
      << docker_tree;
  EXPECT_EQ(docker_tree, list_tree(mkimg_out, Times::kIgnore))
      << unified_diff(docker_tree, list_tree(mkimg_out, Times::kIgnore), work_.path());
  // The directories made for the output (and their parents) have Docker's mode.
  for (const fs::path& p : {fs::path("dir"), fs::path()}) {
    struct stat ds {
    }, ms{};
    ASSERT_EQ(::stat((work_ / "docker-out" / p).c_str(), &ds), 0);
    ASSERT_EQ(::stat((work_ / "mkimg-out" / p).c_str(), &ms), 0);
    EXPECT_EQ(ds.st_mode & 07777, ms.st_mode & 07777) << p;
  }
}

TEST_F(OutputPeer, TarOutputUnpacksToTheTreeDockerWrites) {
  PeerWorld& world = PeerWorld::get();
  MKIMG_REQUIRE_PEER(world);
  fs::path docker_tar = work_ / "docker.tar", mkimg_tar = work_ / "mkimg.tar";
  CommandResult d = docker_build("type=tar,dest=" + docker_tar.string());
  ASSERT_EQ(d.exit_code, 0) << d.all();
  CommandResult m = mkimg_build("type=tar,dest=" + mkimg_tar.string());
  ASSERT_EQ(m.exit_code, 0) << m.all();
  untar(docker_tar, work_ / "docker-tree");
  untar(mkimg_tar, work_ / "mkimg-tree");
  std::string docker_tree = list_tree(work_ / "docker-tree", Times::kIgnore);
  std::string mkimg_tree = list_tree(work_ / "mkimg-tree", Times::kIgnore);
  EXPECT_NE(docker_tree.find("out/sub/key mode=100644 owner=1000:1000"), std::string::npos)
      << docker_tree;
  EXPECT_EQ(docker_tree, mkimg_tree) << unified_diff(docker_tree, mkimg_tree, work_.path());
}

}  // namespace
}  // namespace mkimg::testing::peers
