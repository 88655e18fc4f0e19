// libFuzzer target: arbitrary bytes as a layer blob (plain, gzip or zstd by their magic),
// applied in both modes to a fresh root. Applying may fail with mkimg::Error, never crash, and
// never write beside the root: a sentinel directory next to it must stay as it was.
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/error.h"
#include "snapshot/apply.h"

namespace fs = std::filesystem;
using namespace mkimg::snapshot;

namespace {

const fs::path& base() {
  static fs::path dir = [] {
    std::string tmpl = (fs::temp_directory_path() / "mkimg-fuzz-apply-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) abort();
    fs::create_directories(fs::path(tmpl) / "sentinel");
    std::ofstream(fs::path(tmpl) / "sentinel/file") << "precious";
    return fs::path(tmpl);
  }();
  return dir;
}

void check_outside_untouched() {
  int entries = 0;
  for (auto& e : fs::directory_iterator(base())) {
    std::string name = e.path().filename();
    if (name != "root" && name != "sentinel" && name != "layer") abort();
    ++entries;
  }
  int sentinel_entries = 0;
  for (auto& e : fs::recursive_directory_iterator(base() / "sentinel")) {
    (void)e;
    ++sentinel_entries;
  }
  std::ifstream in(base() / "sentinel/file");
  std::string content((std::istreambuf_iterator<char>(in)), {});
  if (sentinel_entries != 1 || content != "precious" || entries > 3) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fs::path& dir = base();
  std::ofstream(dir / "layer", std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  ApplyLimits limits;
  limits.max_entries = 2000;
  limits.max_total_bytes = 16 << 20;
  limits.ratio_grace_bytes = 1 << 20;
  for (ApplyMode mode : {ApplyMode::kFlatten, ApplyMode::kOverlayLower}) {
    std::error_code ec;
    fs::remove_all(dir / "root", ec);
    fs::create_directories(dir / "root");
    try {
      apply_layer(dir / "layer", dir / "root", mode, limits);
    } catch (const mkimg::Error&) {
    }
    check_outside_untouched();
  }
  return 0;
}
