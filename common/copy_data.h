// Writing bytes to a descriptor, reading one to its end (a child's output), and copying a file's
// bytes between two descriptors in the kernel where it can (copy_file_range, then sendfile across
// file systems), with read/write as the last resort.
#pragma once

#include <sys/sendfile.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <string>
#include <string_view>

#include "common/error.h"

namespace mkimg {

/// Writes all of `data` to `fd` (retrying short writes and EINTR); throws mkimg::Error
/// "write `what`: <errno text>" otherwise.
inline void write_fd_data(int fd, std::string_view data, std::string_view what) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw sys_error("write", what);
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

/// Reads `fd` to its end (retrying EINTR; a read error ends it like EOF) and returns what it
/// read, keeping reads only while less than `max` bytes are kept: the rest is read and dropped,
/// so a child writing to a pipe never blocks and never grows our memory.
inline std::string read_fd_data(int fd, std::size_t max) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return out;
    if (out.size() < max) out.append(buf, static_cast<std::size_t>(n));
  }
}

/// Copies everything from `from`'s offset on to `to`; `what` names the target in errors. When
/// `keep_going` is given it is asked between chunks (64 MiB in the kernel, 64 KiB otherwise),
/// and false ends the copy with mkimg::Error "copy `what`: interrupted".
inline void copy_fd_data(int from, int to, std::string_view what,
                         const std::function<bool()>& keep_going = {}) {
  auto check = [&] {
    if (keep_going && !keep_going()) throw Error(describe("copy", what, "interrupted"));
  };
  const std::size_t chunk = keep_going ? std::size_t{1} << 26 : std::size_t{1} << 30;
  for (;; check()) {
    ssize_t n = ::copy_file_range(from, nullptr, to, nullptr, chunk, 0);
    if (n == 0) return;
    if (n > 0) continue;
    if (errno == EINTR) continue;
    if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP) {
      throw sys_error("copy", what);
    }
    break;
  }
  for (;; check()) {
    ssize_t n = ::sendfile(to, from, nullptr, chunk);
    if (n == 0) return;
    if (n > 0) continue;
    if (errno == EINTR) continue;
    if (errno != EINVAL && errno != ENOSYS) throw sys_error("copy", what);
    break;
  }
  char buf[1 << 16];
  for (;; check()) {
    ssize_t n = ::read(from, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw sys_error("read", what);
    if (n == 0) return;
    write_fd_data(to, std::string_view(buf, static_cast<std::size_t>(n)), what);
  }
}

}  // namespace mkimg
