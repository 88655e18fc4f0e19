// The peer-comparison tests (tests/peers/ holds the cases and scripts): every case folder is
// built by Docker's BuildKit and by mkimg from the same Dockerfile and context, each image
// is turned into a canonical text dump by tests/peers/treedump.py (unpacked tree and
// config), and the two dumps must be equal; a mismatch prints the unified diff.
//
// Docker runs as a private engine per test process (DockerEngine, through
// tests/peers/dockerd.sh), with the busybox base imported from scripts/make-busybox-root.sh.
// The tests skip only when dockerd cannot run on the machine at all (not installed, not root,
// the kernel refuses overlay); an engine that starts but dies or never answers fails them.
// Cases mkimg is known not to match yet are listed in tests/peers/KNOWN_DIFFERENCES and
// reported as skipped with the reason.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "tests/support/harness.h"

namespace mkimg::testing::peers {

/// A private dockerd (own data root, exec root, containerd and socket under a temp dir) for
/// the lifetime of the object. A watchdog in dockerd.sh stops it if this process dies.
class DockerEngine {
 public:
  DockerEngine();
  ~DockerEngine();
  DockerEngine(const DockerEngine&) = delete;
  DockerEngine& operator=(const DockerEngine&) = delete;

  /// Empty when the engine answers; otherwise why it could not start (dockerd.sh's message
  /// and the end of dockerd's log).
  const std::string& failure() const { return failure_; }
  /// True when the failure is that dockerd cannot run on this machine at all (dockerd.sh
  /// start's exit 2: not installed, not root, the kernel refuses overlay), checked before
  /// starting it; any other failure is a broken engine, never a reason to skip.
  bool unavailable() const { return unavailable_; }

  /// Runs Debian's docker client (BuildKit on) against this engine.
  CommandResult client(const std::vector<std::string>& args) const;

  /// The engine's state directory (socket, data root, log).
  const std::filesystem::path& state_dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
  std::string failure_;
  bool unavailable_ = false;
};

/// tests/peers/, where the cases and scripts live.
std::filesystem::path peers_dir();

}  // namespace mkimg::testing::peers
