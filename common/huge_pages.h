// glibc's allocator on transparent huge pages, for the processes that allocate a lot. A COPY of
// 100,000 files makes a million small allocations (names, digests, key parts, map nodes) and
// vectors of tens of megabytes; on the virtual machines CI runs on, each 4 KiB page faulted in
// costs 6-11 us, a quarter of a one-file rebuild of 100,000 files (0.78 -> 0.58 s on this
// project's 2-core VM, docs/benchmarks.md). glibc's own settings fix it: glibc.malloc.hugetlb=1
// (its heaps and big chunks advised MADV_HUGEPAGE, for a kernel whose transparent huge pages are
// in "madvise" mode) and glibc.malloc.top_pad (a heap grown 16 MiB at a time, so in huge pages).
// glibc reads them only from GLIBC_TUNABLES as a process starts, so the executable starts itself
// again once with them set. That costs a second start (about 11 ms here: the dynamic loader's
// relocations, faulted in again), more than the huge pages save below a few thousand files, so
// mkimg does it for a build whose context had many files the last time (cli/build_command.cpp),
// the benchmarks always.
#pragma once

namespace mkimg {

/// Called first thing in main(): in a process start_with_huge_pages() started, gives
/// GLIBC_TUNABLES back the value it had before (or unsets it), so that no program mkimg runs
/// inherits the settings. Does nothing in any other process.
void restore_glibc_tunables();

/// Unless it is already so, starts the executable again (execv of /proc/self/exe: the same
/// process id and arguments, nothing read from stdin yet) with the tunables above added to
/// GLIBC_TUNABLES; calls restore_glibc_tunables() first. Nothing is done where they would do
/// nothing or cannot be set: transparent huge pages not in "madvise" mode (in "always" mode the
/// kernel gives them anyway, in "never" mode not at all), GLIBC_TUNABLES already naming
/// glibc.malloc.hugetlb, MKIMG_HUGE_PAGES=0, an execv that fails (it returns then).
void start_with_huge_pages(char** argv);

}  // namespace mkimg
