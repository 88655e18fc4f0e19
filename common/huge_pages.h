// An executable's first call: glibc's allocator on transparent huge pages. A COPY of 100,000
// files makes a million small allocations (names, digests, key parts, map nodes) and vectors of
// tens of megabytes; on the virtual machines CI runs on, each 4 KiB page faulted in costs
// 6-11 us, a quarter of a one-file rebuild of 100,000 files (0.78 -> 0.58 s on this project's
// 2-core VM, docs/benchmarks.md). glibc's own settings fix it: glibc.malloc.hugetlb=1 (its heaps
// and big chunks advised MADV_HUGEPAGE, for a kernel whose transparent huge pages are in
// "madvise" mode) and glibc.malloc.top_pad (a heap grown 16 MiB at a time, so in huge pages).
// glibc reads them only from GLIBC_TUNABLES as a process starts, so the executable starts itself
// again once with them set.
#pragma once

namespace mkimg {

/// Called first thing in main(): unless it is already so, starts the executable again (execv of
/// /proc/self/exe: the same process id and arguments) with the tunables above added to
/// GLIBC_TUNABLES. In the process started so, GLIBC_TUNABLES gets back the value it had before
/// (or is unset), so no program mkimg runs inherits the settings. Nothing is done where they
/// would do nothing or cannot be set: transparent huge pages off, GLIBC_TUNABLES already naming
/// glibc.malloc.hugetlb, MKIMG_HUGE_PAGES=0, an execv that fails (it returns then).
void start_with_huge_pages(char** argv);

}  // namespace mkimg
