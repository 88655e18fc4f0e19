#include "tests/integration/peers/docker_engine.h"

#include <unistd.h>

#include <cstdlib>

namespace mkimg::testing::peers {

std::filesystem::path peers_dir() { return source_dir() / "tests" / "peers"; }

namespace {

std::filesystem::path script() { return peers_dir() / "dockerd.sh"; }

/// A fresh, short state directory: the socket path must stay under 108 bytes.
std::filesystem::path make_state_dir() {
  std::string tmpl = "/tmp/mkimg-peers-docker.XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) return {};
  return tmpl;
}

}  // namespace

DockerEngine::DockerEngine() : dir_(make_state_dir()) {
  if (dir_.empty()) {
    failure_ = "create a state directory under /tmp failed";
    return;
  }
  CommandResult r = run({script().string(), "start", dir_.string(), std::to_string(::getpid())});
  if (r.exit_code == 0) return;
  unavailable_ = r.exit_code == 2;
  failure_ = "dockerd.sh start " + dir_.string() + " exited with " + std::to_string(r.exit_code) +
             ": " + r.all();
}

DockerEngine::~DockerEngine() {
  if (!dir_.empty()) run({script().string(), "stop", dir_.string()});
}

CommandResult DockerEngine::client(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {script().string(), "client", dir_.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv);
}

}  // namespace mkimg::testing::peers
