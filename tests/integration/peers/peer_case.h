#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace mkimg::testing::peers {

/// One build of a case: the tag it makes, the Dockerfile's name in the case folder, and the
/// extra `build` flags (the same for Docker and mkimg, which take docker build's flags).
struct PeerBuild {
  std::string tag;
  std::string dockerfile;
  std::vector<std::string> flags;
};

/// A folder of tests/peers/: Dockerfile, optional context/ (copied), optional setup.sh (run
/// in the copy, for what git cannot hold: modes, owners, links, empty dirs, archives),
/// optional `builds` (lines "TAG DOCKERFILE FLAGS...", built in order, every tag compared;
/// default "peers:latest Dockerfile"), and optional DOCKERFILE.peer, what Docker builds
/// instead when its built-in frontend cannot parse newer syntax.
struct PeerCase {
  std::string name;
  std::filesystem::path dir;
  std::vector<PeerBuild> builds;
  std::string http;  ///< the base URL "@HTTP@" stands for while the case is served
};

/// Every case folder under `root` (folders holding a Dockerfile), sorted by name.
std::vector<PeerCase> load_peer_cases(const std::filesystem::path& root);

/// Copies the case's context to `dest` (dirs 0755, files 0644), then runs setup.sh there.
/// Returns an error message, empty on success.
std::string prepare_context(const PeerCase& c, const std::filesystem::path& dest);

/// The Dockerfile Docker builds for `b`: DOCKERFILE.peer when present, else DOCKERFILE.
std::filesystem::path peer_dockerfile(const PeerCase& c, const PeerBuild& b);

/// The case's `peer-artefacts` file: paths (one a line, '#' comments) that the old BuildKit
/// of Debian's docker.io leaves in the image and current BuildKit does not; they are dropped
/// from Docker's dump, each file says why.
std::set<std::string> load_peer_artefacts(const PeerCase& c);

/// One line of a case's `peer-history` file: Docker's history entry `from` (its created_by as
/// the dump shows it, a JSON string) stands for current BuildKit's `to`; none: current BuildKit
/// has no such entry.
struct HistoryRewrite {
  std::string from;
  std::optional<std::string> to;
};

/// The case's `peer-history` file: lines `"FROM" -> "TO"` (or `"FROM" ->` for an entry to
/// drop), '#' comments saying why. For the history entries that Debian's docker.io (BuildKit
/// v0.8) writes differently from current BuildKit, or writes for the Dockerfile.peer spelling
/// instead of the case's Dockerfile; the entries as current BuildKit's source writes them.
/// "@HTTP@" stands for the case's `http` URL, as in its build flags.
std::vector<HistoryRewrite> load_peer_history(const PeerCase& c);

/// Docker's dump with its history lines rewritten by `rewrites` (each `from` matched exactly).
std::string rewrite_history(const std::string& dump, const std::vector<HistoryRewrite>& rewrites);

/// tests/peers/KNOWN_DIFFERENCES: "case: reason" lines ('#' starts a comment).
std::map<std::string, std::string> load_known_differences(const std::filesystem::path& file);

}  // namespace mkimg::testing::peers
