#include "snapshot/spec_tree.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <iterator>
#include <map>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "common/copy_data.h"
#include "common/error.h"
#include "common/in_root.h"
#include "common/parallel.h"
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

/// "create `PATH`: interrupted" when `keep_going` says to stop: asked before each entry.
void check_going(const std::function<bool()>& keep_going, const SpecEntry& e) {
  if (keep_going && !keep_going()) throw Error(describe("create", e.path, "interrupted"));
}

class Materializer {
 public:
  Materializer(const fs::path& dir, const SharedFiles* shared,
               const std::function<bool()>& keep_going)
      : shared_(shared), keep_going_(keep_going) {
    root_ = open_tree_root(dir.string());
    if (shared_) {
      // Topmost first: a path is looked up from the top of a stack down.
      for (auto it = shared_->dirs.rbegin(); it != shared_->dirs.rend(); ++it) {
        UniqueFd fd(::open(it->c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!fd) {
          levels_.clear();
          break;
        }
        levels_.push_back({std::move(fd), UniqueFd()});
      }
    }
  }

  /// A whiteout at `path` (its parent made before): an earlier entry hidden.
  void whiteout(const std::string& path) {
    auto [dir, name] = split_rel(path);
    UniqueFd parent = dir.empty()
                          ? UniqueFd(::fcntl(root_.get(), F_DUPFD_CLOEXEC, 0))
                          : open_beneath(root_.get(), dir, O_PATH | O_DIRECTORY | O_NOFOLLOW);
    if (!parent || ::mknodat(parent.get(), name.c_str(), S_IFCHR, makedev(0, 0)) != 0) {
      throw sys_error("create whiteout", path);
    }
    ++stats.whiteouts;
  }

  void add(const SpecEntry& e) {
    auto [dir, name] = split_rel(e.path);
    add_at(parent_fd(dir, e.path), name, e);
  }

  /// A file or symlink whose directory another Materializer on the same directory made before
  /// (materialize_spec's threads): the directory is opened beneath the root, once for a run
  /// of entries in it. A hardlink group's files all on one Materializer (its first file is
  /// made before the others).
  void add_in_made_dir(const SpecEntry& e) {
    auto [dir, name] = split_rel(e.path);
    if (dir.empty()) return add_at(root_.get(), name, e);
    if (!made_dir_ || dir != made_dir_path_) {
      made_dir_ = open_beneath(root_.get(), dir, O_PATH | O_DIRECTORY | O_NOFOLLOW);
      if (!made_dir_ && (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)) {
        throw Error(describe("create", e.path, "its directory is not an entry of the layer"));
      }
      if (!made_dir_) throw sys_error("open", dir);
      made_dir_path_ = dir;
    }
    add_at(made_dir_.get(), name, e);
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
  /// Makes `e` as `name` in the directory `parent`.
  void add_at(int parent, const std::string& name, const SpecEntry& e) {
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

  /// Links the earlier layer's file when it is this one (see spec_tree.h). Its directory in each
  /// directory of the earlier layer is opened once for all its entries (they come in layer
  /// order), so each file costs a stat and a link by name, not a resolution of its whole path.
  /// In a stack the file is the topmost one (a whiteout there: not shared).
  bool share(const SpecEntry& e, int parent, const std::string& name) {
    if (levels_.empty() || !shared_->entries || e.fingerprint.empty() || e.content ||
        !e.xattrs.empty()) {
      return false;
    }
    const EarlierEntry* earlier = shared_->entries->find(e.path, shared_cursor_);
    if (!earlier || earlier->fingerprint != e.fingerprint) return false;
    std::string_view dir = parent_rel(e.path);
    if (dir != shared_dir_path_ || !opened_) {
      shared_dir_path_ = dir;
      opened_ = true;
      for (auto& level : levels_) {
        level.dir = dir.empty() ? UniqueFd(::fcntl(level.root.get(), F_DUPFD_CLOEXEC, 0))
                                : open_beneath(level.root.get(), shared_dir_path_,
                                               O_PATH | O_DIRECTORY | O_NOFOLLOW);
      }
    }
    for (auto& level : levels_) {
      if (!level.dir) continue;
      struct stat st {};
      if (::fstatat(level.dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) continue;
        return false;
      }
      if (!S_ISREG(st.st_mode) || st.st_mode != e.mode || st.st_uid != e.uid ||
          st.st_gid != e.gid || st.st_mtim.tv_sec != e.mtime ||
          st.st_mtim.tv_nsec != e.mtime_nsec) {
        return false;
      }
      // By name in the directory opened beneath the earlier layer: a one-component name, and
      // linkat never follows a symlink without AT_SYMLINK_FOLLOW.
      if (::linkat(level.dir.get(), name.c_str(), parent, name.c_str(), 0) == 0) return true;
      if (errno != EPERM) return false;  // too many links (EMLINK): the file is written instead
      // protected_hardlinks refuses a name link to a file the caller does not own: by descriptor.
      UniqueFd from = open_beneath(level.dir.get(), name, O_PATH | O_NOFOLLOW);
      return from && link_to(from.get(), parent, name);
    }
    return false;
  }

  /// Links the file open as `fd` (O_PATH) at `name` in `parent`: by descriptor, or through
  /// /proc/self/fd where linking by descriptor needs a capability the process lacks.
  static bool link_to(int fd, int parent, const std::string& name) {
    if (::linkat(fd, "", parent, name.c_str(), AT_EMPTY_PATH) == 0) return true;
    if (errno != ENOENT && errno != EPERM) return false;
    std::string proc = "/proc/self/fd/" + std::to_string(fd);
    return ::linkat(AT_FDCWD, proc.c_str(), parent, name.c_str(), AT_SYMLINK_FOLLOW) == 0;
  }

  /// One directory of the earlier layer: its root, and the directory of the last shared file in
  /// it (none where it has no such directory).
  struct Level {
    UniqueFd root, dir;
  };

  const SharedFiles* shared_;
  std::size_t shared_cursor_ = 0;  ///< shared_->entries', for find()
  const std::function<bool()>& keep_going_;
  UniqueFd root_;
  std::vector<Level> levels_;    ///< the earlier layer's directories, topmost first
  std::string shared_dir_path_;  ///< the path of Level::dir ("" for the root)
  bool opened_ = false;          ///< Level::dir is open for shared_dir_path_
  std::vector<std::pair<std::string, UniqueFd>> dirs_;
  UniqueFd made_dir_;  ///< add_in_made_dir()'s directory, at made_dir_path_
  std::string made_dir_path_;
  std::vector<std::pair<std::string, struct timespec>> dir_times_;
  std::map<int64_t, std::string> groups_;
};

/// Every path the deltas of a stack hold (`dirs` bottom first: a whole directory, then the
/// deltas above it): where the bottom directory may differ from the layer the stack makes.
/// Deltas hold what changed, so this is a walk of few entries.
std::unordered_set<std::string> paths_in_deltas(const std::vector<fs::path>& dirs) {
  std::unordered_set<std::string> paths;
  for (std::size_t i = 1; i < dirs.size(); ++i) {
    UniqueFd root = open_tree_root(dirs[i].string());
    walk_tree(root.get(), [&paths](const std::string& rel, const struct stat&) {
      paths.insert(rel);
      return true;
    });
  }
  return paths;
}

}  // namespace

MaterializeStats materialize_spec(const std::vector<SpecEntry>& entries, const fs::path& dir,
                                  const SharedFiles* shared,
                                  const std::function<bool()>& keep_going) {
  // The directories first, on this thread; then the files and symlinks on every core, each
  // thread a range of them in layer order (creating a file costs the kernel 50-500 us on this
  // kind of machine: 100,000 of them are seconds); then the files of hardlink groups, here.
  std::vector<const SpecEntry*> sorted = in_layer_order(entries);
  std::vector<const SpecEntry*> files, linked;
  Materializer m(dir, shared, keep_going);
  for (const SpecEntry* e : sorted) {
    if (S_ISDIR(e->mode)) {
      check_going(keep_going, *e);
      m.add(*e);
    } else {
      (S_ISREG(e->mode) && e->link_group >= 0 ? linked : files).push_back(e);
    }
  }
  std::mutex mutex;
  std::map<std::size_t, MaterializeStats> parts;  // by the first index of their range
  std::atomic<bool> failed = false;               // the other threads stop at their next entry
  for_each_range(files.size(), core_threads(8), 512, [&](std::size_t begin, std::size_t end) {
    try {
      Materializer worker(dir, shared, keep_going);
      for (std::size_t i = begin; i < end && !failed; ++i) {
        check_going(keep_going, *files[i]);
        worker.add_in_made_dir(*files[i]);
      }
      std::lock_guard lock(mutex);
      parts.emplace(begin, std::move(worker.stats));
    } catch (...) {
      failed = true;
      throw;
    }
  });
  for (auto& [begin, part] : parts) {
    m.stats.linked += part.linked;
    m.stats.written += part.written;
    std::move(part.changed.begin(), part.changed.end(), std::back_inserter(m.stats.changed));
  }
  for (const SpecEntry* e : linked) {
    check_going(keep_going, *e);
    m.add_in_made_dir(*e);
  }
  m.finish();
  return m.stats;
}

std::optional<MaterializeStats> materialize_delta(
    const std::vector<SpecEntry>& entries, const fs::path& dir, const EarlierEntries& earlier,
    const std::vector<fs::path>& earlier_dirs,
    const std::function<bool(const std::string& path)>& nothing_below,
    const std::function<bool()>& keep_going) {
  if (earlier_dirs.empty()) throw Error(describe("create", dir.string(), "no earlier layer"));
  std::vector<const SpecEntry*> sorted = in_layer_order(entries);
  std::unordered_set<std::string> touched = paths_in_deltas(earlier_dirs);
  // The directories by path (a few hundred of 100,000 entries): the parents looked up.
  std::unordered_map<std::string_view, std::size_t> dirs;
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    if (S_ISDIR(sorted[i]->mode)) dirs.emplace(sorted[i]->path, i);
  }
  std::vector<char> made(sorted.size(), 0);
  // Marks the directories on the way to `path` (not `path`) as made.
  auto mark_parents = [&](std::string_view path) {
    for (auto p = parent_rel(path); !p.empty(); p = parent_rel(p)) {
      auto it = dirs.find(p);
      if (it == dirs.end()) {
        throw Error(
            describe("create", std::string(path), "its directory is not a directory of the layer"));
      }
      if (made[it->second]) return;
      made[it->second] = 1;
    }
  };
  std::size_t still_there = 0;  // earlier entries at a path of this layer
  std::size_t cursor = 0;
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    const SpecEntry& e = *sorted[i];
    const EarlierEntry* before = earlier.find(e.path, cursor);
    if (before) ++still_there;
    if (e.fingerprint.empty() || !before || before->fingerprint != e.fingerprint ||
        touched.contains(e.path)) {
      made[i] = 1;
      mark_parents(e.path);
    }
  }
  // An earlier entry that is gone is hidden where its parent stays a directory; below a
  // parent that is gone or is no directory now, it is hidden with the parent. Looked for only
  // when some earlier entry has no path of this layer.
  std::vector<std::string> hidden;
  if (still_there < earlier.size()) {
    std::unordered_set<std::string_view> paths;
    paths.reserve(sorted.size());
    for (const SpecEntry* e : sorted) paths.insert(e->path);
    for (const auto& [path, e] : earlier) {
      if (paths.contains(path)) continue;
      auto parent = parent_rel(path);
      if (!parent.empty()) {
        auto it = dirs.find(parent);
        if (it == dirs.end()) continue;
        made[it->second] = 1;
        mark_parents(parent);
      }
      hidden.emplace_back(path);
    }
  }
  // Where a delta of the earlier layer changed a directory, the bottom directory may hold an
  // entry neither the earlier layer nor this one has (hidden by that delta): hidden again.
  if (!touched.empty()) {
    UniqueFd bottom = open_tree_root(earlier_dirs.front().string());
    auto in_layer = [&sorted](const std::string& path) {
      auto it = std::lower_bound(
          sorted.begin(), sorted.end(), path,
          [](const SpecEntry* e, const std::string& p) { return layer_path_less(e->path, p); });
      return it != sorted.end() && (*it)->path == path;
    };
    std::vector<std::string> changed_dirs{""};
    for (const auto& path : touched) {
      if (dirs.contains(path)) changed_dirs.push_back(path);
    }
    std::sort(changed_dirs.begin(), changed_dirs.end());
    std::sort(hidden.begin(), hidden.end());
    std::vector<std::string> more;
    for (const auto& d : changed_dirs) {
      auto st = stat_beneath(bottom.get(), d);
      if (!st || !S_ISDIR(st->st_mode)) continue;
      for (const auto& name : list_dir(bottom.get(), d)) {
        std::string path = join_rel(d, name);
        if (!in_layer(path) && !std::binary_search(hidden.begin(), hidden.end(), path)) {
          more.push_back(std::move(path));
        }
      }
    }
    hidden.insert(hidden.end(), more.begin(), more.end());
  }
  if (static_cast<std::size_t>(std::count(made.begin(), made.end(), 1)) * 2 > sorted.size()) {
    return std::nullopt;
  }
  for (const auto& path : hidden) {
    if (!nothing_below(path)) return std::nullopt;
  }
  // A file made only because a delta holds it is linked from there.
  SharedFiles shared{earlier_dirs, &earlier};
  Materializer m(dir, &shared, keep_going);
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    if (!made[i]) {
      ++m.stats.kept;
      continue;
    }
    check_going(keep_going, *sorted[i]);
    m.add(*sorted[i]);
  }
  for (const auto& path : hidden) m.whiteout(path);
  m.finish();
  return m.stats;
}

}  // namespace mkimg::snapshot
