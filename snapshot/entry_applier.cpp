#include "snapshot/entry_applier.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/archive_error.h"
#include "common/error.h"
#include "common/user_namespace.h"
#include "snapshot/layer_stream.h"
#include "snapshot/tree_walk.h"

namespace mkimg::snapshot {

namespace {

constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kOpaqueMarker = ".wh..wh..opq";

/// Owner, mode, xattrs and time of an entry, checked.
struct Meta {
  uid_t uid = 0;
  gid_t gid = 0;
  mode_t perm = 0;
  timespec mtime{};
  std::vector<std::pair<std::string, std::string>> xattrs;
};

Meta read_meta(archive_entry* e, const ApplyLimits& limits, const std::optional<ApplyOwner>& owner,
               const std::string& name) {
  Meta m;
  int64_t uid = archive_entry_uid(e), gid = archive_entry_gid(e);
  if (uid < 0 || gid < 0 || uid >= 0xffffffffLL || gid >= 0xffffffffLL) {
    throw Error(describe("apply", name, "uid or gid out of range"));
  }
  m.uid = static_cast<uid_t>(owner ? owner->uid : uid);
  m.gid = static_cast<gid_t>(owner ? owner->gid : gid);
  m.perm = archive_entry_perm(e) & 07777;
  m.mtime.tv_sec = archive_entry_mtime(e);
  long ns = archive_entry_mtime_nsec(e);
  m.mtime.tv_nsec = (ns >= 0 && ns < 1000000000L) ? ns : 0;
  int64_t total = 0;
  archive_entry_xattr_reset(e);
  const char* key = nullptr;
  const void* value = nullptr;
  size_t size = 0;
  while (archive_entry_xattr_next(e, &key, &value, &size) == ARCHIVE_OK) {
    total += static_cast<int64_t>(size) + static_cast<int64_t>(std::strlen(key));
    if (total > limits.max_xattr_bytes) throw Error(describe("apply", name, "xattrs too large"));
    // trusted.overlay.*, security.selinux, system.* ... never come from a layer.
    if (is_kept_xattr(key))
      m.xattrs.emplace_back(key, std::string(static_cast<const char*>(value), size));
  }
  return m;
}

/// Owner first, then mode (so chown cannot clear setuid bits), then xattrs (chown clears
/// security.capability), on an fd of a regular file or directory.
void set_meta_fd(int fd, const Meta& m, const std::string& name) {
  if (::fchown(fd, m.uid, m.gid) != 0) throw chown_error(name, m.uid, m.gid);
  if (::fchmod(fd, m.perm) != 0) throw sys_error("chmod", name);
  for (const auto& [key, value] : m.xattrs) {
    if (::fsetxattr(fd, key.c_str(), value.data(), value.size(), 0) != 0) {
      throw sys_error("set xattr " + key + " on", name);
    }
  }
}

void set_time_at(int dir, const std::string& leaf, const timespec& mtime) {
  timespec ts[2] = {mtime, mtime};
  if (::utimensat(dir, leaf.c_str(), ts, AT_SYMLINK_NOFOLLOW) != 0) {
    throw sys_error("set times of", leaf);
  }
}

/// Clears the way for a new entry at `leaf` in `dir`; returns true when an existing
/// directory is kept (a directory entry over a directory).
bool make_room(int dir, const std::string& leaf, bool keep_dir) {
  struct stat st {};
  if (::fstatat(dir, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return false;
  if (keep_dir && S_ISDIR(st.st_mode)) return true;
  remove_at(dir, leaf);
  return false;
}

}  // namespace

EntryApplier::EntryApplier(int root, ApplyMode mode, const ApplyLimits& limits,
                           const std::optional<ApplyOwner>& owner)
    : root_(root), mode_(mode), limits_(limits), owner_(owner) {}

void EntryApplier::apply(archive* a, archive_entry* e) {
  const char* raw = archive_entry_pathname(e);
  if (raw == nullptr) throw Error(describe("apply", "entry", "no name"));
  RootPath path = clean_path(raw, static_cast<std::size_t>(limits_.max_path_bytes));
  if (path.empty()) return;  // "." or "/": the root itself is never changed by a layer
  const std::string& leaf = path.back();
  if (leaf == kOpaqueMarker) {
    opaque(RootPath(path.begin(), path.end() - 1));
    return;
  }
  if (leaf.rfind(kWhiteoutPrefix, 0) == 0) {
    whiteout(path);
    return;
  }
  if (const char* target = archive_entry_hardlink(e)) {
    hardlink(path, target);
  } else {
    switch (archive_entry_filetype(e)) {
      case AE_IFREG:
        regular(a, e, path);
        break;
      case AE_IFDIR:
        directory(e, path);
        break;
      case AE_IFLNK:
      case AE_IFCHR:
      case AE_IFBLK:
      case AE_IFIFO:
        special(e, path);
        break;
      default:
        throw Error(describe("apply", join(path), "unsupported file type"));
    }
  }
  mark_written(path);
}

void EntryApplier::whiteout(const RootPath& path) {
  std::string hidden = path.back().substr(kWhiteoutPrefix.size());
  if (hidden.empty() || hidden == "." || hidden == ".." || hidden.rfind(kWhiteoutPrefix, 0) == 0) {
    throw Error(describe("apply", join(path), "invalid whiteout"));
  }
  RootPath target(path.begin(), path.end() - 1);
  target.push_back(hidden);
  if (written(target)) return;  // a whiteout hides lower layers only
  if (mode_ == ApplyMode::kFlatten) {
    UniqueFd dir = open_parent(root_, target, Missing::kFail);
    if (dir) remove_at(dir.get(), hidden);
    return;
  }
  UniqueFd dir = open_parent(root_, target, Missing::kCreate);
  make_room(dir.get(), hidden, false);
  if (::mknodat(dir.get(), hidden.c_str(), S_IFCHR, makedev(0, 0)) != 0) {
    throw sys_error("create whiteout", join(target));
  }
  mark_written(target);
}

void EntryApplier::opaque(const RootPath& dir) {
  if (dir.empty() && mode_ == ApplyMode::kOverlayLower) return;  // the root of a layer
  UniqueFd fd = open_dir(root_, dir, Missing::kCreate);
  std::string name = dir.empty() ? "." : join(dir);
  if (mode_ == ApplyMode::kFlatten) {
    for (const std::string& child : list_dir(fd.get(), "")) {
      RootPath child_path = dir;
      child_path.push_back(child);
      if (!written(child_path)) remove_at(fd.get(), child);
    }
    return;
  }
  UniqueFd real(::openat(fd.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!real || ::fsetxattr(real.get(), overlay_xattr("opaque").c_str(), "y", 1, 0) != 0) {
    throw sys_error("mark opaque", name);
  }
  mark_written(dir);
}

void EntryApplier::hardlink(const RootPath& path, const char* raw_target) {
  RootPath target = clean_path(raw_target, static_cast<std::size_t>(limits_.max_path_bytes));
  if (target.empty()) throw Error(describe("link", join(path), "target is the root"));
  UniqueFd target_dir = open_parent(root_, target, Missing::kFail);
  struct stat st {};
  if (!target_dir ||
      ::fstatat(target_dir.get(), target.back().c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    throw Error(describe("link", join(path), "target `" + join(target) + "` does not exist"));
  }
  if (S_ISDIR(st.st_mode)) throw Error(describe("link", join(path), "target is a directory"));
  if (target == path) return;
  UniqueFd dir = open_parent(root_, path, Missing::kCreate);
  make_room(dir.get(), path.back(), false);
  if (::linkat(target_dir.get(), target.back().c_str(), dir.get(), path.back().c_str(), 0) != 0) {
    throw sys_error("link", join(path));
  }
}

void EntryApplier::regular(archive* a, archive_entry* e, const RootPath& path) {
  Meta meta = read_meta(e, limits_, owner_, join(path));
  int64_t size = archive_entry_size(e);
  if (size < 0) throw Error(describe("apply", join(path), "bad size"));
  if (size > limits_.max_total_bytes) {
    throw Error(describe("apply", join(path),
                         "its size " + std::to_string(size) + " is " +
                             over_layer_size_limit(limits_.max_total_bytes)));
  }
  UniqueFd dir = open_parent(root_, path, Missing::kCreate);
  make_room(dir.get(), path.back(), false);
  UniqueFd fd(::openat(dir.get(), path.back().c_str(),
                       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) throw sys_error("create", join(path));
  const void* block = nullptr;
  size_t length = 0;
  la_int64_t offset = 0;
  int rc;
  while ((rc = archive_read_data_block(a, &block, &length, &offset)) == ARCHIVE_OK) {
    if (offset < 0 || offset + static_cast<int64_t>(length) > size) {
      throw Error(describe("apply", join(path), "data beyond the file size"));
    }
    const char* p = static_cast<const char*>(block);
    while (length > 0) {
      ssize_t n = ::pwrite(fd.get(), p, length, offset);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw sys_error("write", join(path));
      p += n, offset += n, length -= static_cast<size_t>(n);
    }
  }
  if (rc != ARCHIVE_EOF)
    throw Error(describe("read", join(path), archive_message(a, "corrupt data")));
  if (::ftruncate(fd.get(), size) != 0) throw sys_error("truncate", join(path));
  set_meta_fd(fd.get(), meta, join(path));
  timespec ts[2] = {meta.mtime, meta.mtime};
  if (::futimens(fd.get(), ts) != 0) throw sys_error("set times of", join(path));
}

void EntryApplier::directory(archive_entry* e, const RootPath& path) {
  Meta meta = read_meta(e, limits_, owner_, join(path));
  UniqueFd dir = open_parent(root_, path, Missing::kCreate);
  if (!make_room(dir.get(), path.back(), true) &&
      ::mkdirat(dir.get(), path.back().c_str(), 0700) != 0) {
    throw sys_error("create directory", join(path));
  }
  UniqueFd fd(
      ::openat(dir.get(), path.back().c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) throw sys_error("open directory", join(path));
  set_meta_fd(fd.get(), meta, join(path));
  dir_times_.emplace_back(path, meta.mtime);
}

void EntryApplier::special(archive_entry* e, const RootPath& path) {
  Meta meta = read_meta(e, limits_, owner_, join(path));
  const std::string& leaf = path.back();
  UniqueFd dir = open_parent(root_, path, Missing::kCreate);
  make_room(dir.get(), leaf, false);
  int rc = 0;
  mode_t type = archive_entry_filetype(e);
  if (type == AE_IFLNK) {
    const char* target = archive_entry_symlink(e);
    if (target == nullptr || std::strlen(target) > static_cast<size_t>(limits_.max_path_bytes)) {
      throw Error(describe("apply", join(path), "bad symlink target"));
    }
    rc = ::symlinkat(target, dir.get(), leaf.c_str());
  } else {
    dev_t dev = 0;
    if (type == AE_IFCHR || type == AE_IFBLK) {
      auto maj = archive_entry_rdevmajor(e), min = archive_entry_rdevminor(e);
      if (maj > 0xfff || min > 0xfffff)
        throw Error(describe("apply", join(path), "device number does not fit"));
      dev = makedev(maj, min);
    }
    rc = ::mknodat(dir.get(), leaf.c_str(), type | 0600, dev);
    if (rc != 0 && errno == EPERM && type != AE_IFIFO && in_user_namespace()) {
      // A user namespace may make no device. An unpacked layer goes without it, as moby and
      // containers/storage do rootless (a container gets its own /dev); a tree that becomes a
      // layer itself (import, ADD) would lose it: an error.
      if (mode_ == ApplyMode::kOverlayLower) return;
      throw Error(describe("create device", join(path),
                           "no device can be made in a user namespace (mkimg without root); "
                           "do this as root"));
    }
  }
  if (rc != 0) throw sys_error("create", join(path));
  if (::fchownat(dir.get(), leaf.c_str(), meta.uid, meta.gid, AT_SYMLINK_NOFOLLOW) != 0) {
    throw chown_error(join(path), meta.uid, meta.gid);
  }
  if (type != AE_IFLNK &&
      ::fchmodat(dir.get(), leaf.c_str(), meta.perm, AT_SYMLINK_NOFOLLOW) != 0) {
    throw sys_error("chmod", join(path));
  }
  set_time_at(dir.get(), leaf, meta.mtime);
}

void EntryApplier::mark_written(const RootPath& path) {
  std::string s;
  for (const std::string& part : path) {
    if (!s.empty()) s += '/';
    s += part;
    written_.insert(s);
  }
}

bool EntryApplier::written(const RootPath& path) const { return written_.count(join(path)) > 0; }

void EntryApplier::finish() {
  for (auto it = dir_times_.rbegin(); it != dir_times_.rend(); ++it) {
    UniqueFd dir = open_parent(root_, it->first, Missing::kFail);
    struct stat st {};
    if (!dir || ::fstatat(dir.get(), it->first.back().c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISDIR(st.st_mode)) {
      continue;
    }
    set_time_at(dir.get(), it->first.back(), it->second);
  }
}

}  // namespace mkimg::snapshot
