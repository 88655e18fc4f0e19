// Shared by bench_layer and bench_snapshot: the cached Debian root, a stopwatch, and running a
// shell pipeline. Benchmarks print figures; they never assert a timing.
#pragma once

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace mkimg::bench {

namespace fs = std::filesystem;

/// The 200 MB, ~7,000-entry `debootstrap --variant=minbase bookworm` root, cached (made once).
inline fs::path debian_root() {
  const char* cache = std::getenv("MKIMG_BENCH_CACHE");
  fs::path root = fs::path(cache ? cache : "/var/cache/mkimg-bench") / "bookworm";
  if (!fs::exists(root / "usr")) {
    std::printf("bench: debootstrap --variant=minbase bookworm %s (once)\n", root.c_str());
    std::string cmd = "debootstrap --variant=minbase bookworm " + root.string() + " >/dev/null";
    if (std::system(cmd.c_str()) != 0) std::exit(1);
  }
  return root;
}

/// Seconds since construction.
class Stopwatch {
 public:
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

/// Runs `cmd` with sh and returns the seconds it took (exits when it fails).
inline double time_shell(const std::string& cmd) {
  Stopwatch w;
  if (std::system(cmd.c_str()) != 0) {
    std::fprintf(stderr, "bench: failed: %s\n", cmd.c_str());
    std::exit(1);
  }
  return w.seconds();
}

/// Bytes of all regular files under `root`.
inline double tree_bytes(const fs::path& root) {
  double total = 0;
  for (auto& e : fs::recursive_directory_iterator(root)) {
    if (e.is_regular_file() && !e.is_symlink()) total += static_cast<double>(e.file_size());
  }
  return total;
}

}  // namespace mkimg::bench
