// common/huge_pages.h: mkimg starts itself again with glibc's allocator on transparent huge
// pages. Seen from outside, in the running process: its heap is advised for huge pages (the
// "hg" flag of its [heap] mapping in /proc/PID/smaps), and not with MKIMG_HUGE_PAGES=0.
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

/// mkimg's [heap] flags once `ready(pid)` holds, while it waits to read its Dockerfile from a
/// FIFO nobody writes.
template <typename Ready>
std::string heap_flags_of_mkimg(const std::map<std::string, std::string>& env, Ready ready) {
  TempDir tmp;
  fs::path fifo = tmp / "archive";
  if (::mkfifo(fifo.c_str(), 0600) != 0) return "no fifo";
  ChildProcess mkimg({mkimg_binary(), "--root", (tmp / "store").string(), "build", "-f",
                      fifo.string(), tmp.path().string()},
                     tmp / "log", env);
  std::string flags;
  bool seen = wait_until([&] {
    flags = heap_flags(mkimg.pid());
    return ready(mkimg.pid(), flags);
  });
  mkimg.kill();
  return seen ? flags : "never ready: " + flags;
}

TEST(HugePages, MkimgsHeapIsAdvisedHugePagesUnlessTurnedOff) {
  if (::geteuid() != 0) GTEST_SKIP() << "reading another process's /proc/PID/syscall needs root";
  if (!transparent_huge_pages_in_madvise_mode()) {
    GTEST_SKIP() << "transparent huge pages are not in madvise mode here: nothing is advised";
  }
  // Started again (its environment at exec names the value before), its heap advised.
  std::string on = heap_flags_of_mkimg({}, [](pid_t pid, const std::string& flags) {
    return proc_file(pid, "environ").find("MKIMG_GLIBC_TUNABLES_BEFORE=") != std::string::npos &&
           flags.find(" hg ") != std::string::npos;
  });
  EXPECT_NE(on.find(" hg "), std::string::npos) << on;
  // Not started again: once it waits in openat (257) for the FIFO, its heap is not advised.
  std::string off = heap_flags_of_mkimg(
      {{"MKIMG_HUGE_PAGES", "0"}},
      [](pid_t pid, const std::string&) { return proc_file(pid, "syscall").starts_with("257 "); });
  EXPECT_FALSE(off.starts_with("never")) << off;
  EXPECT_EQ(off.find(" hg "), std::string::npos) << off;
}

}  // namespace
}  // namespace mkimg::testing
