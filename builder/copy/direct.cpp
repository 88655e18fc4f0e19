// COPY/ADD straight into a layer (see plan.h): the entries the overlay path would give,
// computed from the sources and a read-only view of the image instead of from files written
// to disk first.
#include <fcntl.h>
#include <sys/stat.h>

#include <iterator>
#include <map>
#include <set>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "builder/copy/plan.h"
#include "common/error.h"
#include "common/in_root.h"
#include "runtime/cancel.h"

namespace mkimg::builder {
namespace {

/// lstat of paths in the image view, memoized; a path below a missing or non-directory parent
/// is reported missing without a system call.
class ViewProbe {
 public:
  explicit ViewProbe(int root) : root_(root) {}

  const std::optional<struct stat>& lookup(const std::string& rel) {
    if (auto it = seen_.find(rel); it != seen_.end()) return it->second;
    return seen_.emplace(rel, peek(rel)).first->second;
  }

  /// lookup() without remembering `rel` itself (only its parents): for the paths a COPY
  /// writes, each asked once, of which there may be 100,000.
  std::optional<struct stat> peek(const std::string& rel) {
    std::string parent(parent_rel(rel));
    if (!parent.empty()) {
      const auto& p = lookup(parent);
      if (!p || !S_ISDIR(p->st_mode)) return std::nullopt;
    }
    struct stat st {};
    if (::fstatat(root_, rel.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) return st;
    if (errno != ENOENT) throw sys_error("stat", "/" + rel);
    return std::nullopt;
  }

 private:
  int root_;
  std::map<std::string, std::optional<struct stat>> seen_;
};

/// Collects the entries of one direct COPY; each step answers false where the overlay path
/// must do the work instead (replacing something of the image, a path written twice, a file
/// type the spec writer does not make).
class DirectPlanner {
 public:
  DirectPlanner(int view_root, int src_root, std::optional<CopyOwner> owner, int64_t now)
      : root_(view_root), probe_(view_root), src_root_(src_root), owner_(owner), now_(now) {}

  /// Room for `count` new entries. `unique`: the files to add cannot meet at a path (one
  /// source, whose walk gives each path once) nor link to each other (no file with more than
  /// one link): only directories, which the parents of later files are found among, are then
  /// indexed by path (100,000 files are 100,000 nodes of a hash map otherwise).
  void reserve(std::size_t count, bool unique) {
    index_all_ = !unique;
    list_.reserve(count + 64);  // and the directories it creates, most of the time
    if (index_all_) index_.reserve(count + 64);
  }

  /// One file of a source, copied to `base` (+ its sub-path).
  bool add(const CopySource& s, const std::string& base, const CopyFile& f) {
    // The target's path without its leading "/" (`base` is absolute), made once.
    std::string rel;
    rel.reserve(base.size() + f.sub.size());
    rel.append(base, 1);
    if (!f.sub.empty()) {
      if (!rel.empty() && !base.ends_with('/')) rel += '/';
      rel.append(f.sub);
    }
    if (rel.empty()) return true;
    if (!add_parents(rel)) return false;
    if (const auto st = probe_.peek(rel)) {
      // A source directory copied onto a directory of the image merges into it.
      if (S_ISDIR(st->st_mode) && f.type == S_IFDIR && f.sub.empty()) {
        existing_.insert(rel);
        return true;
      }
      return false;  // replacing something of the image: the overlay path does it
    }
    if (index_all_ && index_.contains(rel)) return false;  // written twice
    snapshot::SpecEntry& e = new_entry();  // made in its place: an entry is seven strings
    if (!file_entry(e, s, base, f, std::move(rel))) {
      list_.pop_back();
      return false;
    }
    if (indexed(e)) index_.emplace(e.path, list_.size() - 1);
    return true;
  }

  /// The entries: the image's directories a new entry is below, then the new entries in the
  /// order they were added (the sources' walk order, which is layer order for one source).
  std::vector<snapshot::SpecEntry> finish() {
    // The distinct parents of new entries (a few hundred for 100,000 files), then theirs.
    std::unordered_set<std::string_view> parents_of_new;
    std::string_view last;
    for (const auto& e : list_) {
      std::string_view parent = parent_rel(e.path);
      if (parent != last || parents_of_new.empty()) parents_of_new.insert(parent);
      last = parent;
    }
    std::set<std::string> above;
    for (std::string_view parent : parents_of_new) {
      for (std::string_view p = parent; !p.empty(); p = parent_rel(p)) {
        if (!above.emplace(p).second) break;
      }
    }
    std::vector<snapshot::SpecEntry> entries;
    for (const std::string& dir : existing_) {
      if (above.contains(dir)) {
        entries.push_back(image_dir(dir, parents_of_new.contains(std::string_view(dir))));
      }
    }
    index_.clear();
    if (entries.empty()) return std::move(list_);
    entries.reserve(entries.size() + list_.size());
    std::move(list_.begin(), list_.end(), std::back_inserter(entries));
    return entries;
  }

 private:
  bool indexed(const snapshot::SpecEntry& e) const { return index_all_ || S_ISDIR(e.mode); }

  /// The new entry at `rel`: any one, or only a directory when not every entry is indexed.
  snapshot::SpecEntry* find_new(std::string_view rel) {
    auto it = index_.find(rel);
    return it == index_.end() ? nullptr : &list_[it->second];
  }

  /// A new entry at the end of list_, not indexed yet.
  snapshot::SpecEntry& new_entry() {
    bool moving = list_.size() == list_.capacity();
    list_.emplace_back();
    if (moving) {  // the paths index_ views moved with their entries
      index_.clear();
      for (std::size_t i = 0; i + 1 < list_.size(); ++i) {
        if (indexed(list_[i])) index_.emplace(list_[i].path, i);
      }
    }
    return list_.back();
  }

  /// The directories on the way: the image's (real directories only) or created 0755. The
  /// files of a directory come one after another: their parent is checked once.
  bool add_parents(const std::string& rel) {
    std::string_view parent = parent_rel(rel);
    if (parent.empty() || (parents_ok_ && parent == last_parent_)) return true;
    parents_ok_ = false;
    for (std::size_t slash = rel.find('/'); slash != std::string::npos;
         slash = rel.find('/', slash + 1)) {
      std::string dir = rel.substr(0, slash);
      if (const auto& st = probe_.lookup(dir)) {
        if (!S_ISDIR(st->st_mode)) return false;
        existing_.insert(dir);
      } else if (const snapshot::SpecEntry* made = find_new(dir)) {
        if (!S_ISDIR(made->mode)) return false;  // below a symlink it copies
      } else {
        snapshot::SpecEntry& d = new_entry();
        d.path = dir;
        d.mode = S_IFDIR | 0755;
        d.uid = owner_ ? owner_->uid : 0;
        d.gid = owner_ ? owner_->gid : 0;
        d.mtime = now_;
        index_.emplace(d.path, list_.size() - 1);
      }
    }
    last_parent_ = parent;
    parents_ok_ = true;
    return true;
  }

  /// Fills `e` (new) for `f` at `rel`; false for what the spec writer does not make.
  bool file_entry(snapshot::SpecEntry& e, const CopySource& s, const std::string& base,
                  const CopyFile& f, std::string rel) {
    e.uid = owner_ ? owner_->uid : f.uid;
    e.gid = owner_ ? owner_->gid : f.gid;
    e.mtime = f.mtime.tv_sec;
    e.mtime_nsec = f.mtime.tv_nsec;
    if (!f.hardlink_to.empty()) {
      std::string first = (std::filesystem::path(base) / f.hardlink_to).string().substr(1);
      snapshot::SpecEntry* target = find_new(first);
      if (!target || !S_ISREG(target->mode)) return false;
      if (target->link_group < 0) target->link_group = groups_++;
      e = *target;
    } else if (f.type == S_IFDIR) {
      e.mode = S_IFDIR | f.mode;
    } else if (f.type == S_IFLNK) {
      e.mode = S_IFLNK | 0777;
      e.link_target = f.link_target;
    } else if (f.type == S_IFREG) {
      e.mode = S_IFREG | f.mode;
      e.digest = f.digest;
      if (f.content) {
        e.content = f.content;
      } else {
        e.content_root = src_root_;
        e.content_path = join_rel(s.read_from, f.sub);
      }
    } else {
      return false;
    }
    e.path = std::move(rel);
    return true;
  }

  /// An image directory in the layer, as the overlay copies it up (owner, mode, xattrs kept),
  /// its mtime now when a new entry is its child.
  snapshot::SpecEntry image_dir(const std::string& dir, bool has_new_child) {
    const struct stat& st = *probe_.lookup(dir);
    snapshot::SpecEntry d;
    d.path = dir;
    d.mode = st.st_mode;
    d.uid = st.st_uid;
    d.gid = st.st_gid;
    d.mtime = st.st_mtim.tv_sec;
    d.mtime_nsec = st.st_mtim.tv_nsec;
    if (has_new_child) {
      d.mtime_nsec = 0;
      d.mtime = now_;
    }
    UniqueFd fd(::openat(root_, dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) throw sys_error("open", "/" + dir);
    d.xattrs = snapshot::layer_xattrs(fd.get());
    return d;
  }

  int root_;
  ViewProbe probe_;
  int src_root_;
  std::optional<CopyOwner> owner_;
  int64_t now_;
  /// The new entries in the order added (index_ views their paths: rebuilt when they move).
  std::vector<snapshot::SpecEntry> list_;
  std::unordered_map<std::string_view, std::size_t> index_;  // list_ by layer path (indexed())
  bool index_all_ = true;
  std::set<std::string> existing_;  // directories of the image on the way
  std::string last_parent_;         // the parent add_parents() last found good
  bool parents_ok_ = false;
  int64_t groups_ = 0;
};

}  // namespace

std::optional<std::vector<snapshot::SpecEntry>> direct_copy_entries(
    const std::vector<CopySource>& sources, int src_root, const std::filesystem::path& view,
    const Destination& dest, std::optional<CopyOwner> owner, Parents parents, bool force_dir_dest,
    int64_t now) {
  UniqueFd root = open_root(view);
  DirectPlanner planner(root.get(), src_root, owner, now);
  std::size_t count = 0;
  bool links = false;
  for (const auto& s : sources) {
    count += s.files.size();
    for (const auto& f : s.files) links = links || (f.type == S_IFREG && f.nlink > 1);
  }
  planner.reserve(count, sources.size() == 1 && !links);
  bool dest_is_dir = force_dir_dest || dest.dir_hint || is_directory_in_root(view, dest.path);
  for (const auto& s : sources) {
    std::string base = target_path(dest, dest_is_dir, s.is_dir, s.relative, parents);
    for (const auto& f : s.files) {
      if (runtime::interrupted()) throw Error(describe("copy", "/" + s.relative, "interrupted"));
      if (!planner.add(s, base, f)) return std::nullopt;
    }
  }
  return planner.finish();
}

}  // namespace mkimg::builder
