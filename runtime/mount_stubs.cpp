#include "runtime/mount_stubs.h"

#include <fcntl.h>
#include <sys/stat.h>
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

}  // namespace

std::vector<MountStub> find_mount_stubs(const std::filesystem::path& merged,
                                        const std::vector<std::string>& destinations) {
  UniqueFd root = open_root(merged);
  std::vector<MountStub> stubs;
  for (const auto& dest : destinations) {
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
        struct stat st {};
        if (parent && ::fstat(parent.get(), &st) == 0) {
          stub.parent_mtime = st.st_mtim;
          stub.has_parent_mtime = true;
        }
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
    struct timespec ts[2] = {s.parent_mtime, s.parent_mtime};
    if (parent && s.has_parent_mtime) ::futimens(parent.get(), ts);
  }
}

}  // namespace mkimg::runtime
