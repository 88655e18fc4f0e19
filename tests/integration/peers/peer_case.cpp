#include "tests/integration/peers/peer_case.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "tests/support/harness.h"

namespace mkimg::testing::peers {

namespace {

std::vector<std::string> words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::vector<PeerBuild> load_builds(const fs::path& dir) {
  std::ifstream in(dir / "builds");
  if (!in) return {{"peers:latest", "Dockerfile", {}}};
  std::vector<PeerBuild> builds;
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> w = words(line);
    if (w.size() < 2 || w[0][0] == '#') continue;
    builds.push_back({w[0], w[1], {w.begin() + 2, w.end()}});
  }
  return builds;
}

}  // namespace

std::vector<PeerCase> load_peer_cases(const fs::path& root) {
  std::vector<PeerCase> cases;
  for (const auto& entry : fs::directory_iterator(root)) {
    if (!entry.is_directory() || !fs::exists(entry.path() / "Dockerfile")) continue;
    cases.push_back({entry.path().filename().string(), entry.path(), load_builds(entry.path())});
  }
  std::sort(cases.begin(), cases.end(),
            [](const PeerCase& a, const PeerCase& b) { return a.name < b.name; });
  return cases;
}

std::string prepare_context(const PeerCase& c, const fs::path& dest) {
  fs::create_directories(dest);
  std::string script = "set -e; cd '" + dest.string() + "'; ";
  if (fs::exists(c.dir / "context")) script += "cp -a '" + (c.dir / "context").string() + "/.' .; ";
  script += "find . -type d -exec chmod 0755 {} +; find . -type f -exec chmod 0644 {} +; ";
  if (fs::exists(c.dir / "setup.sh")) script += "bash -e '" + (c.dir / "setup.sh").string() + "'";
  CommandResult r = run({"sh", "-c", script});
  return r.exit_code == 0 ? "" : "prepare context `" + c.name + "`: " + r.all();
}

fs::path peer_dockerfile(const PeerCase& c, const PeerBuild& b) {
  fs::path peer = c.dir / (b.dockerfile + ".peer");
  return fs::exists(peer) ? peer : c.dir / b.dockerfile;
}

std::set<std::string> load_peer_artefacts(const PeerCase& c) {
  std::set<std::string> paths;
  std::ifstream in(c.dir / "peer-artefacts");
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line[0] == '/') paths.insert(line);
  }
  return paths;
}

std::vector<HistoryRewrite> load_peer_history(const PeerCase& c) {
  std::vector<HistoryRewrite> rewrites;
  std::ifstream in(c.dir / "peer-history");
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] != '"') continue;
    for (auto at = line.find("@HTTP@"); at != std::string::npos; at = line.find("@HTTP@")) {
      line.replace(at, 6, c.http);
    }
    if (line.size() > 4 && line.compare(line.size() - 4, 4, "\" ->") == 0) {
      rewrites.push_back({line.substr(0, line.size() - 3), std::nullopt});
    } else if (auto arrow = line.find("\" -> \""); arrow != std::string::npos) {
      rewrites.push_back({line.substr(0, arrow + 1), line.substr(arrow + 5)});
    }
  }
  return rewrites;
}

std::string rewrite_history(const std::string& dump, const std::vector<HistoryRewrite>& rewrites) {
  if (rewrites.empty()) return dump;
  std::istringstream in(dump);
  std::string out;
  for (std::string line; std::getline(in, line);) {
    bool keep = true;
    if (line.rfind("history ", 0) == 0) {
      for (const auto& r : rewrites) {
        auto at = line.find(" " + r.from);
        if (at == std::string::npos) continue;
        if (!r.to) keep = false;
        if (r.to) line.replace(at + 1, r.from.size(), *r.to);
        break;
      }
    }
    if (keep) out += line + "\n";
  }
  return out;
}

std::map<std::string, std::string> load_known_differences(const fs::path& file) {
  std::map<std::string, std::string> known;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    name.erase(std::remove(name.begin(), name.end(), ' '), name.end());
    auto start = line.find_first_not_of(' ', colon + 1);
    known[name] = start == std::string::npos ? "no reason given" : line.substr(start);
  }
  return known;
}

}  // namespace mkimg::testing::peers
