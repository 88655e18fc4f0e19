#include "snapshot/root_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/in_root.h"

namespace mkimg::snapshot {

RootPath clean_path(std::string_view name, std::size_t max_bytes) {
  if (name.size() > max_bytes) throw Error(describe("check path", name.substr(0, 64), "too long"));
  if (name.find('\0') != std::string_view::npos) {
    throw Error(describe("check path", name, "contains a NUL byte"));
  }
  RootPath parts;
  std::size_t start = 0;
  while (start <= name.size()) {
    std::size_t end = name.find('/', start);
    if (end == std::string_view::npos) end = name.size();
    std::string_view part = name.substr(start, end - start);
    if (part == "..") throw Error(describe("check path", name, "leaves the root"));
    if (!part.empty() && part != ".") parts.emplace_back(part);
    start = end + 1;
  }
  return parts;
}

std::string join(const RootPath& path) {
  std::string s;
  for (const std::string& part : path) {
    if (!s.empty()) s += '/';
    s += part;
  }
  return s;
}

namespace {

UniqueFd open_dir_in_root(int root, const std::string& rel) {
  return open_resolved(root, rel, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
                       O_PATH | O_DIRECTORY);
}

}  // namespace

UniqueFd open_dir(int root, const RootPath& dir, Missing missing) {
  UniqueFd fd = open_dir_in_root(root, join(dir));
  if (fd || errno != ENOENT || missing == Missing::kFail) {
    if (!fd && missing == Missing::kCreate) throw sys_error("open directory", join(dir));
    return fd;
  }
  // Make the missing directories one by one, re-resolving each prefix inside the root.
  UniqueFd parent = open_dir_in_root(root, "");
  RootPath prefix;
  for (const std::string& part : dir) {
    prefix.push_back(part);
    UniqueFd next = open_dir_in_root(root, join(prefix));
    if (!next && errno == ENOENT) {
      if (::mkdirat(parent.get(), part.c_str(), 0755) != 0 && errno != EEXIST) {
        throw sys_error("create directory", join(prefix));
      }
      next = open_dir_in_root(root, join(prefix));
    }
    if (!next) throw sys_error("open directory", join(prefix));
    parent = std::move(next);
  }
  return parent;
}

UniqueFd open_parent(int root, const RootPath& path, Missing missing) {
  return open_dir(root, RootPath(path.begin(), path.end() - 1), missing);
}

void remove_at(int dir, const std::string& name) {
  if (::unlinkat(dir, name.c_str(), 0) == 0 || errno == ENOENT) return;
  if (errno != EISDIR) throw sys_error("remove", name);
  UniqueFd sub(::openat(dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!sub) throw sys_error("open directory", name);
  std::vector<std::string> children;
  {
    UniqueFd listing(::dup(sub.get()));
    if (!listing) throw sys_error("dup", name);
    DIR* d = ::fdopendir(listing.get());
    if (d == nullptr) throw sys_error("read directory", name);
    listing.release();
    while (dirent* e = ::readdir(d)) {
      std::string child = e->d_name;
      if (child != "." && child != "..") children.push_back(std::move(child));
    }
    ::closedir(d);
  }
  for (const std::string& child : children) remove_at(sub.get(), child);
  if (::unlinkat(dir, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
    throw sys_error("remove directory", name);
  }
}

}  // namespace mkimg::snapshot
