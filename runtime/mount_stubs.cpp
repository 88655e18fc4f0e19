#include "runtime/mount_stubs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

#include "common/in_root.h"

namespace mkimg::runtime {
namespace {

bool exists_in_root(int root_fd, const std::string& path) {
  return open_in_root(root_fd, path, O_PATH | O_NOFOLLOW).valid();
}

void remove_one(int upper_fd, const std::string& path) {
  std::filesystem::path p(path);
  UniqueFd parent =
      open_in_root(upper_fd, p.parent_path().string(), O_PATH | O_DIRECTORY | O_NOFOLLOW);
  if (!parent) return;
  std::string name = p.filename().string();
  struct stat st {};
  if (::fstatat(parent.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return;
  if (S_ISDIR(st.st_mode)) {
    ::unlinkat(parent.get(), name.c_str(), AT_REMOVEDIR);  // fails harmlessly when not empty
  } else if (S_ISREG(st.st_mode) && st.st_size == 0) {
    ::unlinkat(parent.get(), name.c_str(), 0);
  }
}

/// The mtime of `fd` from the kernel itself (statx by syscall): a stat() wrapper preloaded into
/// mkimg (libfaketime fakes stat's times unless NO_FAKE_STAT) must not decide what a layer holds.
bool kernel_mtime(int fd, struct timespec& mtime) {
  struct statx stx {};
  if (::syscall(SYS_statx, fd, "", AT_EMPTY_PATH, STATX_MTIME, &stx) != 0) return false;
  mtime = {static_cast<time_t>(stx.stx_mtime.tv_sec), static_cast<long>(stx.stx_mtime.tv_nsec)};
  return true;
}

/// Sets `fd`'s times by syscall, for the same reason.
void set_kernel_times(int fd, const struct timespec& mtime) {
  struct timespec ts[2] = {mtime, mtime};
  ::syscall(SYS_utimensat, fd, nullptr, ts, 0);
}

}  // namespace

std::vector<MountStub> find_mount_stubs(const std::filesystem::path& merged,
                                        const std::vector<std::string>& destinations) {
  UniqueFd root = open_root(merged);
  std::vector<MountStub> stubs;
  for (const auto& destination : destinations) {
    // The runtime creates a mount point where the destination resolves in the root: through
    // `/lnk -> /real`, "/lnk/sec" is made as "/real/sec".
    std::string dest = resolve_in_root(root.get(), destination);
    std::string so_far;
    for (const auto& part : std::filesystem::path(dest)) {
      std::string name = part.string();
      if (name.empty() || name == "/") continue;
      so_far += "/" + name;
      if (!exists_in_root(root.get(), so_far)) {
        // Record every missing level so nested stubs are removed deepest first.
        MountStub stub{so_far, {}, false};
        UniqueFd parent = open_in_root(root.get(), std::filesystem::path(so_far).parent_path(),
                                       O_PATH | O_DIRECTORY);
        stub.has_parent_mtime = parent && kernel_mtime(parent.get(), stub.parent_mtime);
        stubs.push_back(stub);
      }
    }
  }
  std::sort(stubs.begin(), stubs.end(),
            [](const MountStub& a, const MountStub& b) { return a.path < b.path; });
  stubs.erase(std::unique(stubs.begin(), stubs.end(),
                          [](const MountStub& a, const MountStub& b) { return a.path == b.path; }),
              stubs.end());
  return stubs;
}

void remove_mount_stubs(const std::filesystem::path& upper, std::vector<MountStub> stubs) {
  UniqueFd root = open_root(upper);
  std::sort(stubs.begin(), stubs.end(),
            [](const MountStub& a, const MountStub& b) { return a.path.size() > b.path.size(); });
  for (const auto& s : stubs) {
    remove_one(root.get(), s.path);
    UniqueFd parent = open_in_root(root.get(), std::filesystem::path(s.path).parent_path(),
                                   O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (parent && s.has_parent_mtime) set_kernel_times(parent.get(), s.parent_mtime);
  }
}

}  // namespace mkimg::runtime
