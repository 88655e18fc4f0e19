// Layer writing throughput on a real 200 MB tree (the cached Debian minbase root): mkimg's
// deterministic writer (gzip, zstd, plain) against `tar | gzip -6`, `tar | pigz -6` and
// `tar | zstd -3` on the same tree. Each is run `runs` times (default 3) and the best is kept.
// Usage: bench_layer [TREE] [RUNS]
#include <filesystem>

#include "bench/bench_common.h"
#include "common/huge_pages.h"
#include "snapshot/layer_writer.h"

using namespace mkimg;
using namespace mkimg::bench;

namespace {

double best_of(int runs, const auto& f) {
  double best = 1e100;
  for (int i = 0; i < runs; ++i) best = std::min(best, f());
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  start_with_huge_pages(argv);  // memory costs what it costs mkimg
  fs::path tree = argc > 1 ? fs::path(argv[1]) : debian_root();
  int runs = argc > 2 ? std::atoi(argv[2]) : 3;
  fs::path out = fs::temp_directory_path() / "mkimg-bench-layer.out";
  double mb = tree_bytes(tree) / 1e6;
  std::printf("tree %s: %.0f MB of file data; best of %d runs\n", tree.c_str(), mb, runs);
  // Warm the page cache so every contender reads from memory.
  time_shell("tar -C " + tree.string() + " -cf /dev/null .");
  std::string tar = "tar -C " + tree.string() + " --sort=name --numeric-owner -cf - . ";
  struct Row {
    const char* name;
    double seconds;
    double size;
  };
  std::vector<Row> rows;
  for (auto [name, c] : {std::pair{"mkimg gzip-6", snapshot::Compression::kGzip},
                         std::pair{"mkimg zstd-3", snapshot::Compression::kZstd},
                         std::pair{"mkimg plain", snapshot::Compression::kNone}}) {
    int64_t size = 0;
    double s = best_of(runs, [&] {
      Stopwatch w;
      size = snapshot::write_layer_from_dir(tree, out, {c, 0, 0, 0}).size;
      return w.seconds();
    });
    rows.push_back({name, s, static_cast<double>(size)});
  }
  for (auto [name, filter] :
       {std::pair{"tar | gzip -6", "gzip -6"}, std::pair{"tar | pigz -6", "pigz -6"},
        std::pair{"tar | zstd -3", "zstd -3 -q"}, std::pair{"tar | zstd -3 -T0", "zstd -3 -T0 -q"},
        std::pair{"tar (no compression)", "cat"}}) {
    double s =
        best_of(runs, [&] { return time_shell(tar + "| " + filter + " > " + out.string()); });
    rows.push_back({name, s, static_cast<double>(fs::file_size(out))});
  }
  fs::remove(out);
  std::printf("%-22s %9s %9s %10s %s\n", "writer", "seconds", "MB/s", "size MB", "vs mkimg gzip");
  for (const Row& r : rows) {
    std::printf("%-22s %9.2f %9.1f %10.1f %.2fx\n", r.name, r.seconds, mb / r.seconds, r.size / 1e6,
                r.seconds / rows[0].seconds);
  }
  return 0;
}
