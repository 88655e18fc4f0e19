#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tests/integration/harness.h"
#include "tests/integration/peers/docker_engine.h"
#include "tests/integration/peers/peer_case.h"

namespace mkimg::testing::peers {

/// What every test of this process shares, made on first use and torn down at exit: the
/// busybox base root (scripts/make-busybox-root.sh) and one Docker engine that has it
/// imported as busybox:latest.
class PeerWorld {
 public:
  static PeerWorld& get();

  /// Empty when Docker is ready; otherwise why no peer can run (the tests then skip).
  const std::string& peer_failure() const { return peer_failure_; }
  const DockerEngine& docker() const { return *docker_; }
  const std::filesystem::path& base_root() const { return base_root_; }
  void shut_down() { docker_.reset(); }

 private:
  PeerWorld();
  std::filesystem::path base_root_;
  std::unique_ptr<DockerEngine> docker_;
  std::string peer_failure_;
};

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
