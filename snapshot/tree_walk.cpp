#include "snapshot/tree_walk.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "common/error.h"
#include "common/in_root.h"

namespace mkimg::snapshot {

UniqueFd open_tree_root(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) throw sys_error("open directory", path);
  return fd;
}

UniqueFd open_beneath(int root, const std::string& rel, int flags) {
  return open_resolved(
      root, rel, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
      flags);
}

std::optional<struct stat> stat_beneath(int root, const std::string& rel) {
  UniqueFd fd = open_beneath(root, rel, O_PATH | O_NOFOLLOW);
  if (!fd) return std::nullopt;
  struct stat st {};
  if (::fstatat(fd.get(), "", &st, AT_EMPTY_PATH) != 0) return std::nullopt;
  return st;
}

std::vector<std::string> list_dir(int root, const std::string& rel) {
  UniqueFd fd = open_beneath(root, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  if (!fd) throw sys_error("open directory", rel.empty() ? "." : rel);
  DIR* dir = ::fdopendir(fd.get());
  if (dir == nullptr) throw sys_error("read directory", rel);
  fd.release();
  std::vector<std::string> names;
  errno = 0;
  while (dirent* d = ::readdir(dir)) {
    std::string name = d->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
  }
  int err = errno;
  ::closedir(dir);
  if (err != 0) throw sys_error("read directory", rel, err);
  std::sort(names.begin(), names.end());
  return names;
}

std::pair<std::string, std::string> split_rel(const std::string& rel) {
  std::size_t slash = rel.rfind('/');
  if (slash == std::string::npos) return {std::string(), rel};
  return {rel.substr(0, slash), rel.substr(slash + 1)};
}

namespace {

void walk_dir(int root, const std::string& rel,
              const std::function<bool(const std::string&, const struct stat&)>& visit) {
  for (const std::string& name : list_dir(root, rel)) {
    std::string child = join_rel(rel, name);
    std::optional<struct stat> st = stat_beneath(root, child);
    if (!st) continue;  // vanished, or a mount point of another file system
    if (visit(child, *st) && S_ISDIR(st->st_mode)) walk_dir(root, child, visit);
  }
}

}  // namespace

void walk_tree(int root, const std::function<bool(const std::string&, const struct stat&)>& visit) {
  walk_dir(root, "", visit);
}

bool is_kept_xattr(const std::string& name) {
  // user.overlay.* are overlay's own markers in a user namespace (userxattr): a layer may not
  // set them, and a layer never records them.
  return name == "security.capability" ||
         (name.rfind("user.", 0) == 0 && name.rfind("user.overlay.", 0) != 0);
}

std::vector<std::pair<std::string, std::string>> kept_xattrs(int fd) {
  std::vector<std::pair<std::string, std::string>> out;
  std::string names(4096, '\0');
  ssize_t n = ::flistxattr(fd, names.data(), names.size());
  if (n < 0 && errno == ERANGE) {
    names.resize(static_cast<std::size_t>(::flistxattr(fd, nullptr, 0)) + 1);
    n = ::flistxattr(fd, names.data(), names.size());
  }
  if (n <= 0) return out;
  for (std::size_t i = 0; i < static_cast<std::size_t>(n);) {
    std::string name(names.c_str() + i);
    i += name.size() + 1;
    if (!is_kept_xattr(name)) continue;
    ssize_t len = ::fgetxattr(fd, name.c_str(), nullptr, 0);
    if (len < 0) continue;
    std::string value(static_cast<std::size_t>(len), '\0');
    len = ::fgetxattr(fd, name.c_str(), value.data(), value.size());
    if (len < 0) continue;
    value.resize(static_cast<std::size_t>(len));
    out.emplace_back(std::move(name), std::move(value));
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace mkimg::snapshot
