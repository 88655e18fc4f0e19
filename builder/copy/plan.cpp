#include "builder/copy/plan.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <map>

#include "common/copy_data.h"
#include "common/error.h"
#include "common/fd.h"
#include "common/in_root.h"
#include "common/parallel.h"
#include "common/user_namespace.h"
#include "runtime/cancel.h"

namespace mkimg::builder {
namespace {

std::vector<std::string> list_dir(int dir_fd) {
  int fd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw sys_error("list", "directory");
  DIR* d = ::fdopendir(fd);
  if (!d) {
    ::close(fd);
    throw sys_error("list", "directory");
  }
  std::vector<std::string> names;
  while (auto* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

bool is_ignored(const CopyInput& in, const std::string& context_rel) {
  return in.ignore && !context_rel.empty() && parser::ignored(*in.ignore, context_rel);
}

/// Expands a wildcard path one component at a time.
std::vector<std::string> glob(const CopyInput& in, int root_fd, const std::string& pattern) {
  std::vector<std::string> current{""};
  for (const auto& part : std::filesystem::path(pattern)) {
    std::string comp = part.string();
    std::vector<std::string> next;
    for (const auto& base : current) {
      if (!has_wildcard(comp)) {
        next.push_back(join_rel(base, comp));
        continue;
      }
      UniqueFd dir = open_in_root(root_fd, base, O_RDONLY | O_DIRECTORY);
      if (!dir) continue;
      for (const auto& name : list_dir(dir.get())) {
        if (match_component(comp, name) && !is_ignored(in, join_rel(base, name))) {
          next.push_back(join_rel(base, name));
        }
      }
    }
    current = std::move(next);
  }
  return current;
}

/// Sets `f` (new) from the stat `st` of the file at `sub`.
void set_file(CopyFile& f, const CopyInput& in, std::string sub, const struct stat& st) {
  f.sub = std::move(sub);
  f.type = st.st_mode & S_IFMT;
  f.mode = in.chmod ? in.chmod->apply(st.st_mode, S_ISDIR(st.st_mode)) : (st.st_mode & 07777);
  if (in.kind == CopyInput::Kind::kImage) {
    f.uid = st.st_uid;
    f.gid = st.st_gid;
  }
  f.mtime = st.st_mtim;
  f.dev = st.st_dev;
  f.ino = st.st_ino;
  f.nlink = st.st_nlink;
  f.size = st.st_size;
  f.ctime = st.st_ctim;
}

/// The fields of the stat `f` was made from that the context memo compares.
struct stat memo_stat(const CopyFile& f) {
  struct stat st {};
  st.st_dev = f.dev;
  st.st_ino = f.ino;
  st.st_size = f.size;
  st.st_mtim = f.mtime;
  st.st_ctim = f.ctime;
  return st;
}

/// Files of one source that share an inode stay hardlinks: each later one names the first.
void find_hardlinks(CopyFiles& files) {
  std::map<std::pair<dev_t, ino_t>, std::string> first;
  for (auto& f : files) {
    if (f.type != S_IFREG || f.nlink < 2 || f.sub.empty()) continue;
    auto [it, inserted] = first.try_emplace({f.dev, f.ino}, f.sub);
    if (!inserted) f.hardlink_to = it->second;
  }
}

/// A symlink named as a source is followed, as Docker does, but only inside the root:
/// returns the path (relative to the root) where it leads.
std::string follow_in_root(const CopyInput& in, int root_fd, const std::string& rel) {
  UniqueFd target = open_in_root(root_fd, rel, O_PATH);
  if (!target) throw Error(describe("copy", "/" + rel, "symlink leads to nothing in the root"));
  std::error_code ec;
  auto host = std::filesystem::read_symlink("/proc/self/fd/" + std::to_string(target.get()), ec);
  auto root = std::filesystem::canonical(in.root, ec);
  if (ec) throw Error(describe("copy", "/" + rel, "cannot resolve the symlink"));
  std::string inside = host.lexically_relative(root).string();
  if (inside == ".") return "";
  if (inside.empty() || inside.starts_with("..")) {
    throw Error(describe("copy", "/" + rel, "symlink leads out of the root"));
  }
  return inside;
}

/// A symlink's target (a regular file's digest is found once the walk is done).
void fill_content(const CopyInput& in, CopyFile& f, int parent_fd, const std::string& name,
                  const std::string& rel) {
  if (f.type == S_IFLNK) {
    char buf[4096];
    ssize_t n = ::readlinkat(parent_fd, name.c_str(), buf, sizeof buf);
    if (n < 0) throw sys_error("read link", (in.root / rel).string());
    f.link_target.assign(buf, static_cast<std::size_t>(n));
  }
}

/// The digest of every regular file of `src`: from the memo when the file's stat is the one
/// remembered (the file is not even opened), else read. Both on every core, a run of files
/// at a time; the digests do not depend on the order. `root_fd` is the context root.
void hash_files(const CopyInput& in, int root_fd, CopySource& src) {
  std::vector<std::vector<CopyFile*>> unknown(src.files.run_count());
  for_each_index(unknown.size(), core_threads(8), [&](std::size_t r) {
    for (CopyFile& f : src.files.run(r)) {
      if (f.type != S_IFREG || !f.digest.empty() || f.content) continue;
      std::string rel = join_rel(src.read_from, f.sub);
      if (auto known = in.hasher->lookup(rel, memo_stat(f))) {
        f.digest = std::move(*known);
      } else {
        unknown[r].push_back(&f);
      }
    }
  });
  std::vector<CopyFile*> pending;
  for (const auto& run : unknown) pending.insert(pending.end(), run.begin(), run.end());
  // At least two threads: a file read waits for the disk.
  for_each_index(pending.size(), std::max<std::size_t>(2, core_threads(64)), [&](std::size_t i) {
    CopyFile& f = *pending[i];
    std::string rel = join_rel(src.read_from, f.sub);
    if (runtime::interrupted()) throw Error(describe("hash", "/" + rel, "interrupted"));
    UniqueFd fd = open_in_root(root_fd, rel, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    if (!fd) throw sys_error("open", (in.root / rel).string());
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw sys_error("stat", (in.root / rel).string());
    if (!S_ISREG(st.st_mode)) {
      throw Error(describe("read", (in.root / rel).string(), "changed while read"));
    }
    f.digest = in.hasher->hash(rel, fd.get(), st);
  });
}

bool wanted_type(mode_t type) { return type == S_IFREG || type == S_IFDIR || type == S_IFLNK; }

/// Docker's BuildKit (checked with Docker 20.10's engine, tests/peers/copy_special_files)
/// turns a device or socket of the build context into an empty regular file with the same
/// permission bits, and leaves fifos out.
bool becomes_empty_file(const CopyInput& in, mode_t type) {
  return in.kind == CopyInput::Kind::kContext &&
         (type == S_IFCHR || type == S_IFBLK || type == S_IFSOCK);
}

void make_empty_file(CopyFile& f) {
  f.type = S_IFREG;
  f.content = "";
  f.nlink = 1;
}

void walk(const CopyInput& in, int dir_fd, const std::string& context_rel, const std::string& sub,
          std::vector<CopyFile>& out);

/// The entry `name` of the directory `dir_fd` and, for a directory, everything below it.
void walk_entry(const CopyInput& in, int dir_fd, const std::string& context_rel,
                const std::string& sub, const std::string& name, std::vector<CopyFile>& out) {
  std::string crel = join_rel(context_rel, name);
  if (runtime::interrupted()) throw Error(describe("copy", "/" + crel, "interrupted"));
  std::string s = join_rel(sub, name);
  struct stat st {};
  if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return;
  bool dir = S_ISDIR(st.st_mode);
  bool skip =
      is_ignored(in, crel) || (!in.excludes.patterns.empty() && parser::ignored(in.excludes, s));
  if (skip && !(dir && in.ignore && parser::must_walk_excluded_directory(*in.ignore, crel))) {
    return;
  }
  bool empty_file = becomes_empty_file(in, st.st_mode & S_IFMT);
  if (!wanted_type(st.st_mode & S_IFMT) && !empty_file) return;
  // Made in its place in `out` (a CopyFile moved is five strings moved).
  CopyFile& f = out.emplace_back();
  set_file(f, in, dir ? s : std::move(s), st);
  if (empty_file) {
    make_empty_file(f);
  } else {
    fill_content(in, f, dir_fd, name, crel);
  }
  if (dir) {
    UniqueFd child(::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!child) throw sys_error("open", (in.root / crel).string());
    walk(in, child.get(), crel, s, out);
  }
}

void walk(const CopyInput& in, int dir_fd, const std::string& context_rel, const std::string& sub,
          std::vector<CopyFile>& out) {
  std::vector<std::string> names = list_dir(dir_fd);
  // Room for this directory's entries at once (growing still doubles): a directory of 1,000
  // files would otherwise move its CopyFiles ten times over.
  if (out.capacity() < out.size() + names.size()) {
    out.reserve(std::max(out.capacity() * 2, out.size() + names.size()));
  }
  for (const auto& name : names) walk_entry(in, dir_fd, context_rel, sub, name, out);
}

/// walk() of a source directory with its top-level entries shared among one thread per core
/// (a large context is mostly stat and readdir): each entry's files are collected apart, in
/// a run of `out` of their own, in name order, so the result, and the error reported (the
/// first in that order), are those of one thread.
void walk_top(const CopyInput& in, int dir_fd, const std::string& context_rel, CopyFiles& out) {
  std::vector<std::string> names = list_dir(dir_fd);
  std::vector<std::vector<CopyFile>> parts(names.size());
  for_each_index(names.size(), core_threads(4), [&](std::size_t i) {
    walk_entry(in, dir_fd, context_rel, "", names[i], parts[i]);
  });
  for (auto& part : parts) out.append(std::move(part));
}

/// One source; `follow`: a symlink named directly (not matched by a wildcard) is followed.
CopySource select_one(const CopyInput& in, int root_fd, const std::string& rel, bool follow) {
  std::string shown = "/" + rel;
  if (is_ignored(in, rel))
    throw Error(describe("copy", shown, "not found (excluded by .dockerignore)"));
  UniqueFd fd = open_in_root(root_fd, rel, O_PATH | O_NOFOLLOW);
  struct stat st {};
  if (!fd || ::fstat(fd.get(), &st) != 0) {
    throw Error(describe("copy", shown, "not found in the build context"));
  }
  CopySource src;
  src.relative = rel;
  src.read_from = rel;
  if (follow && S_ISLNK(st.st_mode)) {
    src.read_from = follow_in_root(in, root_fd, rel);
    fd = open_in_root(root_fd, src.read_from, O_PATH | O_NOFOLLOW);
    if (!fd || ::fstat(fd.get(), &st) != 0) throw sys_error("open", shown);
  }
  const std::string& from = src.read_from;
  src.is_dir = S_ISDIR(st.st_mode);
  CopyFile self;
  set_file(self, in, "", st);
  // BuildKit creates the destination of a directory's contents as 0755 (MkdirAll): --chmod
  // applies to what is copied into it, not to the directory itself.
  if (src.is_dir && in.chmod) self.mode = 0755;
  std::string name = from.empty() ? "." : std::filesystem::path(from).filename().string();
  UniqueFd parent = open_in_root(root_fd, std::filesystem::path(from).parent_path().string(),
                                 O_RDONLY | O_DIRECTORY);
  if (!parent) throw sys_error("open", shown);
  if (becomes_empty_file(in, st.st_mode & S_IFMT)) {
    make_empty_file(self);
  } else if (!from.empty()) {
    fill_content(in, self, parent.get(), name, from);
  }
  src.files.push_back(std::move(self));
  if (src.is_dir) {
    UniqueFd dir = open_in_root(root_fd, from, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (!dir) throw sys_error("open", shown);
    walk_top(in, dir.get(), from, src.files);
  }
  hash_files(in, root_fd, src);
  find_hardlinks(src.files);
  return src;
}

// --- apply -------------------------------------------------------------------------------

/// Removes a non-directory at `name` so a new entry can take its place.
void clear_slot(int parent, const std::string& name, const std::string& target, bool want_dir) {
  struct stat st {};
  if (::fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return;
  if (S_ISDIR(st.st_mode)) {
    if (!want_dir)
      throw Error(describe("copy to", target, "cannot replace a directory with a file"));
    return;
  }
  if (::unlinkat(parent, name.c_str(), 0) != 0) throw sys_error("replace", target);
}

struct Writer {
  const CopyInput& in;
  int src_root;
  int dst_root;
  std::optional<CopyOwner> owner;
  std::vector<std::pair<std::string, struct timespec>> dir_times;

  uid_t uid(const CopyFile& f) const { return owner ? owner->uid : f.uid; }
  gid_t gid(const CopyFile& f) const { return owner ? owner->gid : f.gid; }

  void put(const CopySource& s, const CopyFile& f, const std::string& target) {
    std::filesystem::path t(target);
    std::string name = t.filename().string();
    // Parents COPY creates belong to the --chown owner, as BuildKit's MkdirAll makes them.
    DirOwner dir_owner = owner ? DirOwner{owner->uid, owner->gid} : DirOwner{};
    UniqueFd parent = make_dirs_in_root(dst_root, t.parent_path().string(), dir_owner);
    clear_slot(parent.get(), name, target, f.type == S_IFDIR);
    if (f.type == S_IFDIR) {
      bool created = ::mkdirat(parent.get(), name.c_str(), 0700) == 0;
      if (!created && errno != EEXIST) throw sys_error("create directory", target);
      if (created || !f.sub.empty()) set_meta(parent.get(), name, f, target);
      if (created || !f.sub.empty()) dir_times.push_back({target, f.mtime});
    } else if (f.type == S_IFLNK) {
      if (::symlinkat(f.link_target.c_str(), parent.get(), name.c_str()) != 0) {
        throw sys_error("create symlink", target);
      }
      if (::fchownat(parent.get(), name.c_str(), uid(f), gid(f), AT_SYMLINK_NOFOLLOW) != 0) {
        throw chown_error(target, uid(f), gid(f));
      }
      struct timespec ts[2] = {f.mtime, f.mtime};
      ::utimensat(parent.get(), name.c_str(), ts, AT_SYMLINK_NOFOLLOW);
    } else {
      write_regular(s, f, parent.get(), name, target);
    }
  }

  /// A hardlink to `first`, a file this COPY has already written.
  void link(const std::string& first, const std::string& target) {
    std::filesystem::path f(first), t(target);
    UniqueFd from = open_in_root(dst_root, f.parent_path().string(), O_PATH | O_DIRECTORY);
    UniqueFd parent = make_dirs_in_root(dst_root, t.parent_path().string());
    if (!from) throw sys_error("open", first);
    std::string name = t.filename().string();
    clear_slot(parent.get(), name, target, false);
    if (::linkat(from.get(), f.filename().c_str(), parent.get(), name.c_str(), 0) != 0) {
      throw sys_error("hardlink", target);
    }
  }

  void set_meta(int parent, const std::string& name, const CopyFile& f, const std::string& target) {
    if (::fchownat(parent, name.c_str(), uid(f), gid(f), AT_SYMLINK_NOFOLLOW) != 0) {
      throw chown_error(target, uid(f), gid(f));
    }
    if (::fchmodat(parent, name.c_str(), f.mode, 0) != 0) throw sys_error("chmod", target);
  }

  void write_regular(const CopySource& s, const CopyFile& f, int parent, const std::string& name,
                     const std::string& target) {
    UniqueFd out(
        ::openat(parent, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!out) throw sys_error("create", target);
    if (f.content) {
      write_fd_data(out.get(), *f.content, target);
    } else {
      UniqueFd src = open_in_root(src_root, join_rel(s.read_from, f.sub), O_RDONLY | O_NOFOLLOW);
      if (!src) throw sys_error("open", "/" + join_rel(s.read_from, f.sub));
      copy_fd_data(src.get(), out.get(), target, runtime::keep_going);
    }
    if (::fchown(out.get(), uid(f), gid(f)) != 0) throw chown_error(target, uid(f), gid(f));
    if (::fchmod(out.get(), f.mode) != 0) throw sys_error("chmod", target);
    struct timespec ts[2] = {f.mtime, f.mtime};
    ::futimens(out.get(), ts);
  }

  void restore_dir_times() {
    for (auto it = dir_times.rbegin(); it != dir_times.rend(); ++it) {
      UniqueFd d = open_in_root(dst_root, it->first, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      struct timespec ts[2] = {it->second, it->second};
      if (d) ::futimens(d.get(), ts);
    }
  }
};

}  // namespace

std::string file_key(const CopyFile& f) {
  // The four numbers written in place: no temporaries (a COPY of 100,000 files makes 100,000).
  char numbers[64];
  std::size_t n = 0;
  auto put = [&](unsigned long value, char sep) {
    n = static_cast<std::size_t>(std::to_chars(numbers + n, numbers + 48, value).ptr - numbers);
    numbers[n++] = sep;
  };
  put(f.type, ' ');
  put(f.mode, ' ');
  put(f.uid, ':');
  put(f.gid, ' ');
  std::string key;
  key.reserve(n + f.digest.size() + f.link_target.size() + f.hardlink_to.size() + 2);
  key.append(numbers, n).append(f.digest).append(" ").append(f.link_target).append(" ");
  return key.append(f.hardlink_to);
}

std::vector<CopySource> select_sources(const CopyInput& input,
                                       const std::vector<std::string>& sources) {
  UniqueFd root = open_root(input.root);
  if (input.hasher) input.hasher->preload();  // parsed while the sources are walked
  std::vector<CopySource> out;
  for (const auto& text : sources) {
    std::string rel = clean_source(text);
    if (!has_wildcard(rel)) {
      out.push_back(select_one(input, root.get(), rel, true));
      continue;
    }
    auto matches = glob(input, root.get(), rel);
    std::size_t before = out.size();
    for (const auto& m : matches) {
      UniqueFd probe = open_in_root(root.get(), m, O_PATH | O_NOFOLLOW);
      if (probe) out.push_back(select_one(input, root.get(), m, false));
    }
    if (out.size() == before) {
      throw Error(describe("copy", text, "no source files were specified (nothing matches)"));
    }
  }
  return out;
}

bool is_directory_in_root(const std::filesystem::path& merged, const std::string& path) {
  UniqueFd root = open_root(merged);
  UniqueFd fd = open_in_root(root.get(), path, O_PATH | O_DIRECTORY);
  return fd.valid();
}

void apply_sources(const CopyInput& input, const std::vector<CopySource>& sources,
                   const std::filesystem::path& merged, const Destination& dest,
                   std::optional<CopyOwner> owner, Parents parents, bool force_dir_dest) {
  UniqueFd dst = open_root(merged);
  UniqueFd src = input.root.empty() ? UniqueFd() : open_root(input.root);
  bool dest_is_dir = force_dir_dest || dest.dir_hint || is_directory_in_root(merged, dest.path);
  Writer w{input, src.get(), dst.get(), owner, {}};
  for (const auto& s : sources) {
    std::string base = target_path(dest, dest_is_dir, s.is_dir, s.relative, parents);
    for (const auto& f : s.files) {
      std::string target = f.sub.empty() ? base : (std::filesystem::path(base) / f.sub).string();
      if (target == "/") continue;
      if (runtime::interrupted()) throw Error(describe("copy to", target, "interrupted"));
      if (f.hardlink_to.empty()) {
        w.put(s, f, target);
      } else {
        w.link((std::filesystem::path(base) / f.hardlink_to).string(), target);
      }
    }
  }
  w.restore_dir_times();
}

}  // namespace mkimg::builder
