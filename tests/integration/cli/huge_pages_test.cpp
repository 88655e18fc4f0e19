// common/huge_pages.h: `mkimg build` starts itself again with glibc's allocator on transparent
// huge pages when its context's last build read many files. Seen from outside, in the running
// process: its heap is advised for huge pages (the "hg" flag of its [heap] mapping in
// /proc/PID/smaps); not with MKIMG_HUGE_PAGES=0, and not for a context with no such memo.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "tests/support/harness.h"

namespace mkimg::testing {
namespace {

/// The VmFlags line of `pid`'s [heap] mapping, or "" when it has none (yet).
std::string heap_flags(pid_t pid) {
  std::ifstream smaps("/proc/" + std::to_string(pid) + "/smaps");
  std::string line;
  bool heap = false;
  while (std::getline(smaps, line)) {
    if (line.find("[heap]") != std::string::npos) {
      heap = true;
    } else if (heap && line.starts_with("VmFlags:")) {
      return line + " ";
    }
  }
  return "";
}

bool transparent_huge_pages_in_madvise_mode() {
  std::ifstream mode("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string modes;
  return std::getline(mode, modes) && modes.find("[madvise]") != std::string::npos;
}

/// `pid`'s /proc file `name`, "" when it cannot be read.
std::string proc_file(pid_t pid, const std::string& name) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/" + name);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

/// mkimg's [heap] flags once `ready(pid)` holds, while it builds `context` in `store` and waits
/// to read its Dockerfile from a FIFO nobody writes.
template <typename Ready>
std::string heap_flags_of_mkimg(const fs::path& store, const fs::path& context,
                                const std::map<std::string, std::string>& env, Ready ready) {
  TempDir tmp;
  fs::path fifo = tmp / "Dockerfile";
  if (::mkfifo(fifo.c_str(), 0600) != 0) return "no fifo";
  ChildProcess mkimg(
      {mkimg_binary(), "--root", store.string(), "build", "-f", fifo.string(), context.string()},
      tmp / "log", env);
  std::string flags;
  bool seen = wait_until([&] {
    flags = heap_flags(mkimg.pid());
    return ready(mkimg.pid(), flags);
  });
  mkimg.kill();
  return seen ? flags : "never ready: " + flags;
}

/// Once mkimg waits in openat (257) for the FIFO.
bool waits_for_the_fifo(pid_t pid, const std::string&) {
  return proc_file(pid, "syscall").starts_with("257 ");
}

TEST(HugePages, ABuildOfAContextWithManyFilesHasItsHeapAdvisedUnlessTurnedOff) {
  if (::geteuid() != 0) GTEST_SKIP() << "reading another process's /proc/PID/syscall needs root";
  if (!transparent_huge_pages_in_madvise_mode()) {
    GTEST_SKIP() << "transparent huge pages are not in madvise mode here: nothing is advised";
  }
  TempDir tmp;
  fs::path store = tmp / "store";
  // A context of 6,000 files, built once: its memo (about 135 bytes a file here) passes
  // 512 KiB.
  fs::path many = tmp / "many";
  for (int d = 0; d < 60; ++d) {
    fs::create_directories(many / std::to_string(d));
    for (int f = 0; f < 100; ++f) write_file(many / std::to_string(d) / std::to_string(f), "");
  }
  write_file(many / "Dockerfile", "FROM scratch\nCOPY . /c\n");
  auto built = run_mkimg(store, {"build", "-t", "many", many.string()});
  ASSERT_EQ(built.exit_code, 0) << built.all();
  // Started again (its environment at exec names the value before), its heap advised.
  std::string on = heap_flags_of_mkimg(store, many, {}, [](pid_t pid, const std::string& flags) {
    return proc_file(pid, "environ").find("MKIMG_GLIBC_TUNABLES_BEFORE=") != std::string::npos &&
           flags.find(" hg ") != std::string::npos;
  });
  EXPECT_NE(on.find(" hg "), std::string::npos) << on;
  // Not started again: once it waits for the FIFO, its heap is not advised.
  std::string off =
      heap_flags_of_mkimg(store, many, {{"MKIMG_HUGE_PAGES", "0"}}, waits_for_the_fifo);
  EXPECT_FALSE(off.starts_with("never")) << off;
  EXPECT_EQ(off.find(" hg "), std::string::npos) << off;
  // A context with no memo (never built): not worth a second start.
  fs::path few = tmp / "few";
  fs::create_directories(few);
  std::string small = heap_flags_of_mkimg(store, few, {}, waits_for_the_fifo);
  EXPECT_FALSE(small.starts_with("never")) << small;
  EXPECT_EQ(small.find(" hg "), std::string::npos) << small;
}

}  // namespace
}  // namespace mkimg::testing
