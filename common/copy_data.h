// Copying a file's bytes between two descriptors in the kernel where it can (copy_file_range,
// then sendfile across file systems), with read/write as the last resort.
#pragma once

#include <sys/sendfile.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "common/error.h"

namespace mkimg {

/// Copies everything from `from`'s offset on to `to`; `what` names the target in errors.
inline void copy_fd_data(int from, int to, const std::string& what) {
  for (;;) {
    ssize_t n = ::copy_file_range(from, nullptr, to, nullptr, 1 << 30, 0);
    if (n == 0) return;
    if (n > 0) continue;
    if (errno == EINTR) continue;
    if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP) {
      throw sys_error("copy", what);
    }
    break;
  }
  for (;;) {
    ssize_t n = ::sendfile(to, from, nullptr, 1 << 30);
    if (n == 0) return;
    if (n > 0) continue;
    if (errno == EINTR) continue;
    if (errno != EINVAL && errno != ENOSYS) throw sys_error("copy", what);
    break;
  }
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(from, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw sys_error("read", what);
    if (n == 0) return;
    for (ssize_t done = 0; done < n;) {
      ssize_t w = ::write(to, buf + done, static_cast<std::size_t>(n - done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) throw sys_error("write", what);
      done += w;
    }
  }
}

/// Writes all of `data` to `fd`.
inline void write_fd_data(int fd, const std::string& data, const std::string& what) {
  for (std::size_t done = 0; done < data.size();) {
    ssize_t w = ::write(fd, data.data() + done, data.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) throw sys_error("write", what);
    done += static_cast<std::size_t>(w);
  }
}

}  // namespace mkimg
