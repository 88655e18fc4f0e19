#include "common/huge_pages.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

namespace mkimg {
namespace {

constexpr const char* kTunables = "glibc.malloc.hugetlb=1:glibc.malloc.top_pad=16777216";
/// Set for the process started again: GLIBC_TUNABLES before, after a "=" ("" when it was unset).
constexpr const char* kBefore = "MKIMG_GLIBC_TUNABLES_BEFORE";

bool huge_pages_available() {
  std::ifstream mode("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string modes;
  return std::getline(mode, modes) && modes.find("[never]") == std::string::npos;
}

/// This process is one start_with_huge_pages() started (its variable is gone once restored).
bool started_again = false;

/// GLIBC_TUNABLES as `before` (kBefore's value) says it was.
void restore(const std::string& before) {
  if (before.starts_with("=")) {
    ::setenv("GLIBC_TUNABLES", before.c_str() + 1, 1);
  } else {
    ::unsetenv("GLIBC_TUNABLES");
  }
  ::unsetenv(kBefore);
}

}  // namespace

void restore_glibc_tunables() {
  if (const char* before = std::getenv(kBefore)) {
    started_again = true;
    restore(before);
  }
}

void start_with_huge_pages(char** argv) {
  restore_glibc_tunables();
  if (started_again) return;
  const char* off = std::getenv("MKIMG_HUGE_PAGES");
  if (off && std::string(off) == "0") return;
  const char* current = std::getenv("GLIBC_TUNABLES");
  std::string tunables = current ? current : "";
  if (tunables.find("glibc.malloc.hugetlb") != std::string::npos || !huge_pages_available()) {
    return;
  }
  std::string before = current ? "=" + tunables : "";
  ::setenv(kBefore, before.c_str(), 1);
  ::setenv("GLIBC_TUNABLES", (tunables.empty() ? kTunables : tunables + ":" + kTunables).c_str(),
           1);
  ::execv("/proc/self/exe", argv);
  restore(before);  // not started again: on as before
}

}  // namespace mkimg
