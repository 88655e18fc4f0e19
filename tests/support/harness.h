// tests/support/: what the unit and integration tests share. A map:
//
//   harness.h           run a real command and capture its output, start a background child
//                       (ChildProcess), own a temporary directory, find the mkimg binary and the
//                       source tree (this file)
//   builder_fixture.h   a store and a busybox base for tests that build (builder/, runtime/)
//   emulation_fixture.h QEMU registered (mkimg setup-binfmt) and an arm64 busybox base, for
//                       tests that RUN a foreign platform's programs
//   registry_fixture.h  Debian's docker-registry on loopback (plain, TLS, basic and token auth),
//                       and a proxy that damages blob downloads; with token_issuer.py and
//                       fault_proxy.py
//   http_files.py       a file server on loopback for ADD <URL> and the peer cases
//   parser_vectors.h    BuildKit's parser vectors (tests/conformance/buildkit) as test cases
//   tar_builder.h       hand-made layer tars (plain, gzip, zstd) for apply and diff tests
//   tree_listing.h      a directory tree listed with owners, modes and contents, for comparing
#pragma once

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "common/process.h"

namespace mkimg::testing {

namespace fs = std::filesystem;

inline std::string mkimg_binary() { return MKIMG_BINARY; }
inline fs::path source_dir() { return MKIMG_SOURCE_DIR; }

/// A directory under /tmp (or $TMPDIR) removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "mkimg-test-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    // Unmount anything a failed test left mounted below us before removing.
    unmount_below(path_);
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  /// Detaches every mount point at or below `dir`, deepest first (from /proc/self/mounts).
  static void unmount_below(const fs::path& dir) {
    std::ifstream mounts("/proc/self/mounts");
    std::vector<std::string> points;
    std::string device, point, rest;
    const std::string prefix = dir.string();
    while (mounts >> device >> point && std::getline(mounts, rest)) {
      if (point == prefix || point.rfind(prefix + "/", 0) == 0) points.push_back(point);
    }
    std::sort(points.rbegin(), points.rend());
    for (const auto& p : points) ::umount2(p.c_str(), MNT_DETACH);
  }

  fs::path path_;
};

inline std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write_file(const fs::path& p, const std::string& content) {
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << content;
}

/// What a finished command gave back.
struct CommandResult {
  int exit_code = -1;  ///< exit status, or 128+signal
  std::string out;
  std::string err;
  std::string all() const { return out + err; }
};

/// Runs argv (argv[0] searched in PATH) with extra environment variables and optional stdin,
/// and waits for it. A program that cannot be started gives exit code 127, like a shell.
inline CommandResult run(const std::vector<std::string>& argv,
                         const std::map<std::string, std::string>& env = {},
                         const std::string& input = "") {
  TempDir io;
  fs::path in = io / "in", out = io / "out", err = io / "err";
  write_file(in, input);
  SpawnOptions o;
  o.argv = argv;
  o.search_path = true;
  o.env = env;
  o.in = Redirect::file(in, O_RDONLY);
  o.out = Redirect::file(out, O_WRONLY | O_CREAT | O_TRUNC);
  o.err = Redirect::file(err, O_WRONLY | O_CREAT | O_TRUNC);
  CommandResult r;
  try {
    r.exit_code = Process::spawn(o).wait().shell_code();
  } catch (const Error& e) {
    r.exit_code = 127;
    r.err = e.what();
    return r;
  }
  r.out = read_file(out);
  r.err = read_file(err);
  return r;
}

/// A child process started by a test, stdout and stderr appended to `log`, stdin /dev/null;
/// killed and reaped when this object goes.
class ChildProcess {
 public:
  ChildProcess() = default;
  ChildProcess(const std::vector<std::string>& argv, const fs::path& log,
               const std::map<std::string, std::string>& env = {}) {
    SpawnOptions o;
    o.argv = argv;
    o.search_path = true;
    o.env = env;
    o.in = Redirect::null();
    o.out = Redirect::file(log, O_WRONLY | O_CREAT | O_APPEND);
    o.err = Redirect::to_stdout();
    process_ = Process::spawn(o);
  }
  /// SIGKILL and reap; a no-op once done.
  void kill() { process_.kill(); }
  /// Waits for the end and returns the status like CommandResult::exit_code.
  int wait() { return process_.wait().shell_code(); }
  bool running() { return process_.running(); }
  pid_t pid() const { return process_.pid(); }

 private:
  Process process_;
};

/// The message of the mkimg::Error `f` throws ("" when it throws none).
template <typename F>
std::string error_of(F f) {
  try {
    f();
  } catch (const mkimg::Error& e) {
    return e.what();
  }
  return "";
}

/// Polls `ready` every 50 ms until it holds (true) or `limit` has passed (false).
template <typename F>
bool wait_until(F ready, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  for (auto waited = std::chrono::milliseconds(0); waited < limit;
       waited += std::chrono::milliseconds(50)) {
    if (ready()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return ready();
}

/// Runs mkimg with a store root and arguments.
inline CommandResult run_mkimg(const fs::path& root, std::vector<std::string> args,
                               const std::map<std::string, std::string>& env = {},
                               const std::string& input = "") {
  args.insert(args.begin(), {mkimg_binary(), "--root", root.string()});
  return run(args, env, input);
}

/// True when `tool` is found in PATH.
inline bool have_tool(const std::string& tool) {
  return run({"sh", "-c", "command -v " + tool}).exit_code == 0;
}

}  // namespace mkimg::testing
