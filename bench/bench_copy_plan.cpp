// The parts of a rebuilt COPY that do not depend on what changed, one process at a time (as a
// build pays them: fresh memory, page faults included): the walk of the sources with the
// context memo, the step's key parts, the plan of the layer's entries and their fingerprints.
// The memo is kept in MEMO_DIR, so the second run on a context is the rebuild's case.
// Usage: bench_copy_plan CONTEXT SOURCE MEMO_DIR
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "builder/copy/plan.h"
#include "common/fd.h"
#include "common/huge_pages.h"
#include "common/in_root.h"
#include "common/temp_dir.h"
#include "snapshot/layer_writer.h"

using namespace mkimg;

namespace {

double since(std::chrono::steady_clock::time_point& start) {
  auto now = std::chrono::steady_clock::now();
  double s = std::chrono::duration<double>(now - start).count();
  start = now;
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  start_with_huge_pages(argv);  // memory costs what it costs mkimg
  if (argc != 4) {
    std::fprintf(stderr, "usage: bench_copy_plan CONTEXT SOURCE MEMO_DIR\n");
    return 2;
  }
  std::filesystem::path context = std::filesystem::absolute(argv[1]);
  builder::ContextHasher hasher(argv[3], context);
  builder::CopyInput input;
  input.root = context;
  input.hasher = &hasher;
  TempDir view(std::filesystem::temp_directory_path(), "bench-copy-plan-");
  auto start = std::chrono::steady_clock::now();
  auto sources = builder::select_sources(input, {argv[2]});
  double walk = since(start);
  std::size_t parts = 0;
  for (const auto& s : sources) {
    for (const auto& f : s.files) parts += builder::file_key(f).size();
  }
  double keys = since(start);
  UniqueFd src_root = open_root(context);
  auto plan = builder::direct_copy_entries(sources, src_root.get(), view.path(),
                                           builder::Destination{"/copied", true}, std::nullopt,
                                           builder::Parents::kNo, false, 0);
  double entries = since(start);
  if (!plan) {
    std::fprintf(stderr, "the COPY cannot be written straight into its layer\n");
    return 1;
  }
  snapshot::fingerprint_entries(*plan);
  double fingerprints = since(start);
  hasher.save();
  std::printf(
      "%zu entries: walk %.3f s, key parts %.3f s (one thread), plan %.3f s, "
      "fingerprints %.3f s; %d files read, %zu key bytes\n",
      plan->size(), walk, keys, entries, fingerprints, hasher.files_read(), parts);
  return 0;
}
