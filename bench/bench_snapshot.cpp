// Snapshot of a one-file change on the 200 MB, ~7,000-entry Debian minbase root through both
// diff paths: the overlay upper dir (real overlay mount, root as lowerdir) and the walk (a copy
// of the root, its state recorded, the same change, walked). Also the overlay path on a tiny
// root, to show it does not grow with the size of the root. Usage (root): bench_snapshot [ROOT]
#include <sys/mount.h>
#include <unistd.h>

#include <fstream>

#include "bench/bench_common.h"
#include "common/huge_pages.h"
#include "snapshot/diff.h"

using namespace mkimg;
using namespace mkimg::bench;

namespace {

void one_file_change(const fs::path& root) {
  std::ofstream(root / "etc/motd", std::ios::app) << "changed by bench_snapshot\n";
}

/// Seconds to diff (and write, gzip) a one-file change made through an overlay over `lower`.
double overlay_path(const fs::path& lower, const fs::path& work, int64_t* entries) {
  fs::remove_all(work);
  for (const char* d : {"upper", "work", "merged"}) fs::create_directories(work / d);
  std::string options = "lowerdir=" + lower.string() + ",upperdir=" + (work / "upper").string() +
                        ",workdir=" + (work / "work").string() + ",redirect_dir=off,metacopy=off";
  if (::mount("overlay", (work / "merged").c_str(), "overlay", 0, options.c_str()) != 0) {
    std::perror("mount overlay");
    std::exit(1);
  }
  one_file_change(work / "merged");
  ::umount2((work / "merged").c_str(), 0);
  Stopwatch w;
  snapshot::LayerBlob blob =
      snapshot::diff_overlay_upper(work / "upper", {lower}, work / "layer.tar.gz", {});
  double s = w.seconds();
  *entries = blob.entries;
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  start_with_huge_pages(argv);  // memory costs what it costs mkimg
  fs::path root = argc > 1 ? fs::path(argv[1]) : debian_root();
  fs::path work = fs::temp_directory_path() / ("mkimg-bench-snapshot-" + std::to_string(getpid()));
  fs::create_directories(work);
  int64_t files = 0;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it)
    ++files;
  std::printf("root %s: %.0f MB, %ld entries; change: append to etc/motd\n", root.c_str(),
              tree_bytes(root) / 1e6, static_cast<long>(files));

  int64_t entries = 0;
  double overlay = 1e100;
  for (int i = 0; i < 3; ++i)
    overlay = std::min(overlay, overlay_path(root, work / "ov", &entries));
  std::printf("overlay path (diff upper + write gzip layer): %.4f s, %ld entries\n", overlay,
              static_cast<long>(entries));

  fs::create_directories(work / "tiny/etc");
  std::ofstream(work / "tiny/etc/motd") << "tiny\n";
  double tiny = 1e100;
  for (int i = 0; i < 3; ++i)
    tiny = std::min(tiny, overlay_path(work / "tiny", work / "ov2", &entries));
  std::printf("overlay path on a 1-file root:                %.4f s, %ld entries\n", tiny,
              static_cast<long>(entries));

  time_shell("cp -a " + root.string() + " " + (work / "copy").string());
  double record = 1e100, walk = 1e100;
  for (int i = 0; i < 3; ++i) {
    Stopwatch r;
    snapshot::TreeState before = snapshot::record_tree(work / "copy");
    record = std::min(record, r.seconds());
    one_file_change(work / "copy");
    Stopwatch d;
    snapshot::LayerBlob blob = snapshot::diff_walk(before, work / "copy", work / "walk.tar.gz", {});
    walk = std::min(walk, d.seconds());
    entries = blob.entries;
  }
  std::printf(
      "walk path: record state %.4f s, diff walk + write gzip layer %.4f s (total %.4f s), "
      "%ld entries\n",
      record, walk, record + walk, static_cast<long>(entries));
  fs::remove_all(work);
  return 0;
}
