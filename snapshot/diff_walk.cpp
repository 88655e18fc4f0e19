#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <unordered_map>
#include <unordered_set>

#include "common/error.h"
#include "snapshot/change_set.h"
#include "snapshot/diff.h"
#include "snapshot/tree_walk.h"

namespace mkimg::snapshot {

namespace {

int64_t ns(const timespec& t) { return int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec; }

std::string dir_xattrs(int root, const std::string& rel) {
  UniqueFd fd = open_beneath(root, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  if (!fd) return {};
  std::string out;
  for (const auto& [name, value] : kept_xattrs(fd.get())) {
    out += name + "=" + value;
    out.push_back('\0');
  }
  return out;
}

/// A directory's birth time, so a re-created directory that got the same inode number back
/// still counts as re-created.
int64_t birth_ns(int root, const std::string& rel) {
  UniqueFd fd = open_beneath(root, rel, O_PATH | O_NOFOLLOW);
  struct statx stx {};
  if (!fd || ::statx(fd.get(), "", AT_EMPTY_PATH, STATX_BTIME, &stx) != 0 ||
      !(stx.stx_mask & STATX_BTIME)) {
    return 0;
  }
  return int64_t{stx.stx_btime.tv_sec} * 1'000'000'000 + stx.stx_btime.tv_nsec;
}

/// The inode generation (FS_IOC_GETVERSION; 0 if the file system has none): a new number each
/// time an inode number is handed out again.
uint64_t generation(int root, const std::string& rel) {
  UniqueFd fd = open_beneath(root, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  int gen = 0;
  if (!fd || ::ioctl(fd.get(), FS_IOC_GETVERSION, &gen) != 0) return 0;
  return static_cast<uint32_t>(gen);
}

EntryStat to_entry_stat(int root, const std::string& rel, const struct stat& st) {
  EntryStat e{st.st_mode,     st.st_uid,      st.st_gid, st.st_ino, st.st_nlink, st.st_size,
              ns(st.st_mtim), ns(st.st_ctim), 0,         0,         {}};
  if (S_ISDIR(st.st_mode)) {
    e.xattrs = dir_xattrs(root, rel);
    e.birth_ns = birth_ns(root, rel);
    e.generation = generation(root, rel);
  }
  return e;
}

bool dir_meta_differs(const EntryStat& a, const EntryStat& b) {
  return a.mode != b.mode || a.uid != b.uid || a.gid != b.gid || a.mtime_ns != b.mtime_ns ||
         a.xattrs != b.xattrs;
}

/// Compares the tree under `root` with `before`, directory by directory.
class Walker {
 public:
  Walker(const TreeState& before, int root) : before_(before), root_(root) {
    for (const auto& [path, stat] : before.entries) {
      auto [dir, name] = split_rel(path);
      children_[dir].push_back(std::move(name));
    }
  }

  void dir(const std::string& rel, DirContext context) {
    std::vector<std::string> names = list_dir(root_, rel);
    for (const std::string& name : names) entry(join_rel(rel, name), context);
    if (context == DirContext::kAllNew) return;
    auto it = children_.find(rel);
    if (it == children_.end()) return;
    std::unordered_set<std::string> now(names.begin(), names.end());
    for (const std::string& name : it->second) {
      if (!now.count(name)) changes_.add_whiteout(join_rel(rel, name));
    }
  }

  ChangeSet& changes() { return changes_; }

 private:
  void entry(const std::string& rel, DirContext context) {
    std::optional<struct stat> st = stat_beneath(root_, rel);
    if (!st) return;
    auto before = before_.entries.find(rel);
    bool existed = context == DirContext::kCompare && before != before_.entries.end();
    if (!S_ISDIR(st->st_mode)) {
      if (!existed || before->second.ino != st->st_ino ||
          before->second.ctime_ns != ns(st->st_ctim) || before->second.mode != st->st_mode) {
        changes_.add(rel);
      }
      return;
    }
    if (!existed) {  // a new directory: everything in it is new
      changes_.add(rel);
      dir(rel, DirContext::kAllNew);
      return;
    }
    EntryStat now = to_entry_stat(root_, rel, *st);
    if (!S_ISDIR(before->second.mode) || before->second.ino != now.ino ||
        before->second.birth_ns != now.birth_ns || before->second.generation != now.generation) {
      changes_.add_opaque(rel);  // re-created: hides whatever was there
      dir(rel, DirContext::kAllNew);
      return;
    }
    if (dir_meta_differs(before->second, now)) changes_.add(rel);
    dir(rel, DirContext::kCompare);
  }

  const TreeState& before_;
  int root_;
  std::unordered_map<std::string, std::vector<std::string>> children_;
  ChangeSet changes_;
};

}  // namespace

TreeState record_tree(const fs::path& root) {
  UniqueFd fd = open_tree_root(root);
  TreeState state;
  walk_tree(fd.get(), [&](const std::string& rel, const struct stat& st) {
    state.entries.emplace(rel, to_entry_stat(fd.get(), rel, st));
    return true;
  });
  return state;
}

std::vector<LayerEntry> walk_changes(const TreeState& before, const fs::path& root) {
  try {
    UniqueFd fd = open_tree_root(root);
    Walker walker(before, fd.get());
    walker.dir("", DirContext::kCompare);
    return walker.changes().entries();
  } catch (const std::exception& e) {
    throw with_context("diff `" + root.string() + "`", e);
  }
}

LayerBlob diff_walk(const TreeState& before, const fs::path& root, const fs::path& out_file,
                    const LayerOptions& options) {
  return write_layer(root, walk_changes(before, root), out_file, options);
}

}  // namespace mkimg::snapshot
