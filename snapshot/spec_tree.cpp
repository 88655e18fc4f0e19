#include "snapshot/spec_tree.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <utility>

#include "common/copy_data.h"
#include "common/error.h"
#include "common/user_namespace.h"
#include "snapshot/tree_walk.h"

namespace mkimg::snapshot {
namespace {

struct timespec mtime_of(const SpecEntry& e) {
  return {static_cast<time_t>(e.mtime), static_cast<long>(e.mtime_nsec)};
}

void set_meta(int fd, const SpecEntry& e) {
  // chown first: it clears setuid bits and file capabilities set before it.
  if (::fchown(fd, e.uid, e.gid) != 0) throw chown_error(e.path, e.uid, e.gid);
  if (::fchmod(fd, e.mode & 07777) != 0) throw sys_error("chmod", e.path);
  for (const auto& [key, value] : e.xattrs) {
    if (::fsetxattr(fd, key.c_str(), value.data(), value.size(), 0) != 0) {
      throw sys_error("set xattr " + key + " on", e.path);
    }
  }
}

class Materializer {
 public:
  Materializer(const fs::path& dir, const SharedFiles* shared,
               const std::function<bool()>& keep_going)
      : shared_(shared), keep_going_(keep_going) {
    root_ = open_tree_root(dir.string());
    if (shared_) {
      shared_root_.reset(::open(shared_->dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    }
  }

  void add(const SpecEntry& e) {
    auto [dir, name] = split_rel(e.path);
    int parent = parent_fd(dir, e.path);
    if (S_ISDIR(e.mode)) {
      if (::mkdirat(parent, name.c_str(), 0700) != 0) throw sys_error("create directory", e.path);
      UniqueFd fd(::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!fd) throw sys_error("open", e.path);
      set_meta(fd.get(), e);
      dir_times_.emplace_back(e.path, mtime_of(e));
      dirs_.emplace_back(e.path, std::move(fd));
    } else if (S_ISLNK(e.mode)) {
      if (::symlinkat(e.link_target.c_str(), parent, name.c_str()) != 0) {
        throw sys_error("create symlink", e.path);
      }
      if (::fchownat(parent, name.c_str(), e.uid, e.gid, AT_SYMLINK_NOFOLLOW) != 0) {
        throw chown_error(e.path, e.uid, e.gid);
      }
      struct timespec ts[2] = {mtime_of(e), mtime_of(e)};
      ::utimensat(parent, name.c_str(), ts, AT_SYMLINK_NOFOLLOW);
    } else if (S_ISREG(e.mode)) {
      regular(e, parent, name);
    } else {
      throw Error(describe("create", e.path, "not a file, directory or symlink"));
    }
  }

  /// Sets the directories' mtimes, deepest first (writing into one changes its mtime).
  void finish() {
    dirs_.clear();
    for (auto it = dir_times_.rbegin(); it != dir_times_.rend(); ++it) {
      UniqueFd fd = open_beneath(root_.get(), it->first, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      struct timespec ts[2] = {it->second, it->second};
      if (!fd || ::futimens(fd.get(), ts) != 0) throw sys_error("set mtime", it->first);
    }
  }

  MaterializeStats stats;

 private:
  /// The directory `parent` that `path` goes into: one made before it (entries come in layer
  /// order, so the open directories form the path from the root to the last one made).
  int parent_fd(const std::string& parent, const std::string& path) {
    if (parent.empty()) return root_.get();
    while (!dirs_.empty() && dirs_.back().first != parent) dirs_.pop_back();
    if (dirs_.empty()) {
      throw Error(describe("create", path, "its directory is not an entry of the layer"));
    }
    return dirs_.back().second.get();
  }

  void regular(const SpecEntry& e, int parent, const std::string& name) {
    if (e.link_group >= 0) {
      auto [it, first] = groups_.emplace(e.link_group, e.path);
      if (!first) {
        UniqueFd from = open_beneath(root_.get(), it->second, O_PATH | O_NOFOLLOW);
        if (!from || !link_to(from.get(), parent, name)) throw sys_error("hardlink", e.path);
        return;
      }
    } else if (share(e, parent, name)) {
      ++stats.linked;
      return;
    }
    UniqueFd out(
        ::openat(parent, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!out) throw sys_error("create", e.path);
    if (e.content) {
      write_fd_data(out.get(), *e.content, e.path);
    } else {
      UniqueFd src =
          open_beneath(e.content_root, e.content_path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
      struct stat st {
      }, after{};
      if (!src || ::fstat(src.get(), &st) != 0) throw sys_error("open", e.content_path);
      if (!S_ISREG(st.st_mode)) {
        throw Error(describe("read", e.content_path, "is no longer a regular file"));
      }
      copy_fd_data(src.get(), out.get(), e.path, keep_going_);
      if (::fstat(src.get(), &after) != 0 || after.st_size != st.st_size ||
          after.st_mtim.tv_sec != e.mtime || after.st_mtim.tv_nsec != e.mtime_nsec) {
        stats.changed.push_back(e.path);
      }
    }
    set_meta(out.get(), e);
    struct timespec ts[2] = {mtime_of(e), mtime_of(e)};
    if (::futimens(out.get(), ts) != 0) throw sys_error("set mtime", e.path);
    ++stats.written;
  }

  /// Links the earlier layer's file when it is this one (see spec_tree.h). Its directory in the
  /// earlier layer is opened once for all its entries (they come in layer order), so each file
  /// costs a stat and a link by name, not a resolution of its whole path.
  bool share(const SpecEntry& e, int parent, const std::string& name) {
    if (!shared_root_ || !shared_->entries || e.fingerprint.empty() || e.content ||
        !e.xattrs.empty()) {
      return false;
    }
    auto it = shared_->entries->find(e.path);
    if (it == shared_->entries->end() || it->second.fingerprint != e.fingerprint) return false;
    std::size_t slash = e.path.rfind('/');
    std::string dir = slash == std::string::npos ? std::string() : e.path.substr(0, slash);
    if (!shared_dir_ || dir != shared_dir_path_) {
      shared_dir_path_ = dir;
      shared_dir_ = dir.empty()
                        ? UniqueFd(::fcntl(shared_root_.get(), F_DUPFD_CLOEXEC, 0))
                        : open_beneath(shared_root_.get(), dir, O_PATH | O_DIRECTORY | O_NOFOLLOW);
      if (!shared_dir_) return false;
    }
    struct stat st {};
    if (::fstatat(shared_dir_.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return false;
    if (!S_ISREG(st.st_mode) || st.st_mode != e.mode || st.st_uid != e.uid || st.st_gid != e.gid ||
        st.st_mtim.tv_sec != e.mtime || st.st_mtim.tv_nsec != e.mtime_nsec) {
      return false;
    }
    // By name in the directory opened beneath the earlier layer: a one-component name, and
    // linkat never follows a symlink without AT_SYMLINK_FOLLOW.
    if (::linkat(shared_dir_.get(), name.c_str(), parent, name.c_str(), 0) == 0) return true;
    if (errno != EPERM) return false;  // too many links (EMLINK): the file is written instead
    // protected_hardlinks refuses a name link to a file the caller does not own: by descriptor.
    UniqueFd from = open_beneath(shared_dir_.get(), name, O_PATH | O_NOFOLLOW);
    return from && link_to(from.get(), parent, name);
  }

  /// Links the file open as `fd` (O_PATH) at `name` in `parent`: by descriptor, or through
  /// /proc/self/fd where linking by descriptor needs a capability the process lacks.
  static bool link_to(int fd, int parent, const std::string& name) {
    if (::linkat(fd, "", parent, name.c_str(), AT_EMPTY_PATH) == 0) return true;
    if (errno != ENOENT && errno != EPERM) return false;
    std::string proc = "/proc/self/fd/" + std::to_string(fd);
    return ::linkat(AT_FDCWD, proc.c_str(), parent, name.c_str(), AT_SYMLINK_FOLLOW) == 0;
  }

  const SharedFiles* shared_;
  const std::function<bool()>& keep_going_;
  UniqueFd root_, shared_root_;
  UniqueFd shared_dir_;          ///< the directory of the last shared file, in the earlier layer
  std::string shared_dir_path_;  ///< its path ("" for the root)
  std::vector<std::pair<std::string, UniqueFd>> dirs_;
  std::vector<std::pair<std::string, struct timespec>> dir_times_;
  std::map<int64_t, std::string> groups_;
};

}  // namespace

MaterializeStats materialize_spec(const std::vector<SpecEntry>& entries, const fs::path& dir,
                                  const SharedFiles* shared,
                                  const std::function<bool()>& keep_going) {
  std::vector<const SpecEntry*> sorted;
  sorted.reserve(entries.size());
  for (const auto& e : entries) sorted.push_back(&e);
  std::sort(sorted.begin(), sorted.end(), [](const SpecEntry* a, const SpecEntry* b) {
    return layer_path_less(a->path, b->path);
  });
  Materializer m(dir, shared, keep_going);
  for (const SpecEntry* e : sorted) {
    if (keep_going && !keep_going()) throw Error(describe("create", e->path, "interrupted"));
    m.add(*e);
  }
  m.finish();
  return m.stats;
}

}  // namespace mkimg::snapshot
