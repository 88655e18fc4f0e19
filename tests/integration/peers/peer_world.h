#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/harness.h"
#include "tests/integration/peers/docker_engine.h"
#include "tests/integration/peers/peer_case.h"

namespace mkimg::testing::peers {

/// What every test of this process shares, made on first use and torn down at exit: the
/// busybox base root (scripts/make-busybox-root.sh) and one Docker engine that has it
/// imported as busybox:latest.
class PeerWorld {
 public:
  static PeerWorld& get();
  /// Stops the Docker engine if this process made the world (a no-op otherwise: it never
  /// starts an engine just to stop it).
  static void shut_down_if_made();

  /// Why no peer can run on this machine at all (dockerd not installed, not root, the kernel
  /// refuses overlay): the tests skip with it. Empty otherwise.
  const std::string& peer_unavailable() const { return peer_unavailable_; }
  /// Why the peer side is broken although it could run (dockerd started but died or never
  /// answered, the busybox base or its import failed): the tests fail with it. Empty when
  /// Docker is ready.
  const std::string& peer_error() const { return peer_error_; }
  const DockerEngine& docker() const { return *docker_; }
  const std::filesystem::path& base_root() const { return base_root_; }

 private:
  PeerWorld();
  std::filesystem::path base_root_;
  std::unique_ptr<DockerEngine> docker_;
  std::string peer_unavailable_;
  std::string peer_error_;
};

/// The first lines of every test that needs Docker: skips when no peer can run here, fails
/// when the peer side is broken.
#define MKIMG_REQUIRE_PEER(world)                                                        \
  do {                                                                                   \
    if (!(world).peer_unavailable().empty())                                             \
      GTEST_SKIP() << "no peer can run on this machine: " << (world).peer_unavailable(); \
    ASSERT_EQ((world).peer_error(), "") << "the peer (Docker's engine) is broken";       \
  } while (false)

/// The result of building a case's images with one tool: the concatenated dumps of every tag
/// ("== TAG" then treedump.py's lines), or why it failed.
struct ToolResult {
  std::string dump;
  std::string failure;
};

/// Builds every image of the case with Docker (BuildKit) and dumps them.
ToolResult build_with_docker(const PeerCase& c, const std::filesystem::path& context,
                             const std::filesystem::path& work);

/// Builds every image of the case with mkimg in a fresh store and dumps them.
ToolResult build_with_mkimg(const PeerCase& c, const std::filesystem::path& context,
                            const std::filesystem::path& work);

/// True when the mkimg binary has working `build` and `import` subcommands.
bool mkimg_build_available();

/// `diff -u` of two dumps, labelled docker and mkimg.
std::string unified_diff(const std::string& docker, const std::string& mkimg,
                         const std::filesystem::path& work);

}  // namespace mkimg::testing::peers
