#include "tests/integration/peers/peer_world.h"

#include <stdlib.h>

#include <set>
#include <sstream>

namespace mkimg::testing::peers {

namespace {

std::string python() { return fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3"; }

/// treedump.py's dump of `tag` in `source`, or an error in `failure`.
std::string dump_image(const fs::path& source, const std::string& tag, std::string& failure) {
  CommandResult r = run({python(), (peers_dir() / "treedump.py").string(), source.string(), tag});
  if (r.exit_code != 0) failure = "treedump " + source.string() + " " + tag + ": " + r.err;
  return "== " + tag + "\n" + r.out;
}

/// The store's OCI layout read directly; `mkimg save --format docker` when that fails.
std::string dump_mkimg_image(const fs::path& store, const std::string& tag, const fs::path& work,
                             ToolResult& result) {
  std::string failure;
  std::string dump = dump_image(store / "oci", tag, failure);
  if (failure.empty()) return dump;
  fs::path archive = work / "mkimg-save.tar";
  CommandResult saved =
      run_mkimg(store, {"save", "--format", "docker", tag, "-o", archive.string()});
  if (saved.exit_code != 0) {
    result.failure = failure + "\nmkimg save failed too: " + saved.all();
    return dump;
  }
  return dump_image(archive, tag, result.failure);
}

/// Removes the dump lines of exactly these paths (a line starts with its path and a space).
std::string drop_paths(const std::string& dump, const std::set<std::string>& paths) {
  if (paths.empty()) return dump;
  std::istringstream in(dump);
  std::string out;
  for (std::string line; std::getline(in, line);) {
    if (paths.count(line.substr(0, line.find(' '))) == 0) out += line + "\n";
  }
  return out;
}

bool has_network_flag(const std::vector<std::string>& flags) {
  for (const auto& f : flags)
    if (f.rfind("--network", 0) == 0) return true;
  return false;
}

std::string tail(const std::string& text, size_t max = 6000) {
  return text.size() <= max ? text : "...\n" + text.substr(text.size() - max);
}

/// The busybox base root and its tar, made once per build tree and content of the script and
/// busybox (under <build>/peers-cache/), since every test process needs it and making it
/// takes seconds. Made in a temporary directory and renamed, so concurrent tests never see a
/// half-made one. Empty on failure.
fs::path cached_base_root() {
  fs::path cache = fs::path(mkimg_binary()).parent_path() / "peers-cache";
  std::string script = (source_dir() / "scripts" / "make-busybox-root.sh").string();
  CommandResult key =
      run({"sh", "-c", "cat \"$1\" /bin/busybox | sha256sum | cut -c1-16", "sh", script});
  if (key.exit_code != 0) return {};
  fs::path entry = cache / ("busybox-" + key.out.substr(0, 16));
  if (fs::exists(entry / "busybox.tar")) return entry / "root";
  fs::create_directories(cache);
  std::string tmpl = (cache / "tmp-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) return {};
  CommandResult made =
      run({"sh", "-c",
           "set -e; \"$1\" \"$2/root\"; tar -C \"$2/root\" --numeric-owner -cf "
           "\"$2/busybox.tar\" .; mv -T \"$2\" \"$3\" 2>/dev/null || rm -rf \"$2\"",
           "sh", script, tmpl, entry.string()});
  if (made.exit_code != 0 || !fs::exists(entry / "busybox.tar")) return {};
  return entry / "root";
}

}  // namespace

namespace {
PeerWorld* made_world = nullptr;
}  // namespace

PeerWorld& PeerWorld::get() {
  static PeerWorld world;
  made_world = &world;
  return world;
}

void PeerWorld::shut_down_if_made() {
  if (made_world != nullptr) made_world->docker_.reset();
}

PeerWorld::PeerWorld() : base_root_(cached_base_root()) {
  if (base_root_.empty()) {
    peer_error_ = "make-busybox-root.sh failed";
    return;
  }
  docker_ = std::make_unique<DockerEngine>();
  if (docker_->unavailable()) {
    peer_unavailable_ = "Docker's engine cannot run here (" + docker_->failure() +
                        "); the buildah fallback is not implemented";
    return;
  }
  if (!docker_->failure().empty()) {
    peer_error_ = docker_->failure();
    return;
  }
  CommandResult imported = docker_->client(
      {"import", (base_root_.parent_path() / "busybox.tar").string(), "busybox:latest"});
  if (imported.exit_code != 0) peer_error_ = "docker import of busybox failed: " + imported.all();
}

ToolResult build_with_docker(const PeerCase& c, const fs::path& context, const fs::path& work) {
  const DockerEngine& docker = PeerWorld::get().docker();
  ToolResult result;
  std::vector<std::string> tags;
  for (const PeerBuild& b : c.builds) {
    std::vector<std::string> args = {
        "build", "--progress", "plain", "-f", peer_dockerfile(c, b).string(), "-t", b.tag};
    if (!has_network_flag(b.flags)) args.insert(args.end(), {"--network", "host"});
    args.insert(args.end(), b.flags.begin(), b.flags.end());
    args.push_back(context.string());
    CommandResult r = docker.client(args);
    if (r.exit_code != 0) {
      result.failure = "docker build of " + b.tag + " failed:\n" + tail(r.all());
      return result;
    }
    tags.push_back(b.tag);
  }
  fs::path archive = work / "docker-save.tar";
  std::vector<std::string> save = {"save", "-o", archive.string()};
  save.insert(save.end(), tags.begin(), tags.end());
  CommandResult saved = docker.client(save);
  if (saved.exit_code != 0) {
    result.failure = "docker save failed: " + saved.all();
    return result;
  }
  for (const auto& tag : tags) result.dump += dump_image(archive, tag, result.failure);
  result.dump = drop_paths(result.dump, load_peer_artefacts(c));
  result.dump = rewrite_history(result.dump, load_peer_history(c));
  return result;
}

ToolResult build_with_mkimg(const PeerCase& c, const fs::path& context, const fs::path& work) {
  ToolResult result;
  fs::path store = work / "mkimg-store";
  CommandResult imported =
      run_mkimg(store, {"import", PeerWorld::get().base_root().string(), "busybox:latest"});
  if (imported.exit_code != 0) {
    result.failure = "mkimg import of busybox failed:\n" + imported.all();
    return result;
  }
  for (const PeerBuild& b : c.builds) {
    std::vector<std::string> args = {"build", "-f", (c.dir / b.dockerfile).string(), "-t", b.tag};
    args.insert(args.end(), b.flags.begin(), b.flags.end());
    args.push_back(context.string());
    CommandResult r = run_mkimg(store, args);
    if (r.exit_code != 0) {
      result.failure = "mkimg build of " + b.tag + " failed:\n" + tail(r.all());
      return result;
    }
  }
  for (const PeerBuild& b : c.builds) result.dump += dump_mkimg_image(store, b.tag, work, result);
  return result;
}

bool mkimg_build_available() {
  static const bool available = run({mkimg_binary(), "build", "--help"}).exit_code == 0 &&
                                run({mkimg_binary(), "import", "--help"}).exit_code == 0;
  return available;
}

std::string unified_diff(const std::string& docker, const std::string& mkimg,
                         const fs::path& work) {
  write_file(work / "docker.dump", docker);
  write_file(work / "mkimg.dump", mkimg);
  CommandResult r = run({"diff", "-u", "--label", "docker (BuildKit)", "--label", "mkimg",
                         (work / "docker.dump").string(), (work / "mkimg.dump").string()});
  return r.out;
}

}  // namespace mkimg::testing::peers
