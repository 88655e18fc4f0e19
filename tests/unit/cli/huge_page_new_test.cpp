// cli/huge_page_new.cpp: an allocation of 2 MiB or more lies in a mapping advised for huge
// pages (the "hg" flag of /proc/self/smaps), so a "madvise" kernel backs it with them.
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "cli/cli.h"

namespace {

/// The VmFlags of the mapping holding `address`, or "" when none does.
std::string vm_flags_at(std::uintptr_t address) {
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    std::uintptr_t begin = 0, end = 0;
    char dash = 0;
    std::istringstream range(line);
    if (range >> std::hex >> begin >> dash >> end && dash == '-') {
      inside = begin <= address && address < end;
    } else if (inside && line.starts_with("VmFlags:")) {
      return line;
    }
  }
  return "";
}

TEST(HugePageNew, BigAllocationsAreAdvisedHugePages) {
  if (!mkimg::cli::huge_page_new_in_use()) {
    GTEST_SKIP() << "the sanitizers' operator new is in use";
  }
  std::ifstream mode("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string modes;
  if (!std::getline(mode, modes) || modes.find("[never]") != std::string::npos) {
    GTEST_SKIP() << "this kernel has no transparent huge pages";
  }
  constexpr std::size_t size = std::size_t{8} << 20;
  std::unique_ptr<char[]> big(new char[size]);
  constexpr std::uintptr_t huge = std::uintptr_t{2} << 20;
  std::uintptr_t inner = (reinterpret_cast<std::uintptr_t>(big.get()) + huge - 1) & ~(huge - 1);
  std::string flags = vm_flags_at(inner);
  ASSERT_FALSE(flags.empty()) << "no mapping holds the allocation";
  EXPECT_NE((flags + " ").find(" hg "), std::string::npos) << flags;
}

}  // namespace
