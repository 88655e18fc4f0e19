#include "snapshot/root_export.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>

#include "common/error.h"
#include "common/fd.h"
#include "common/in_root.h"
#include "common/temp_dir.h"
#include "snapshot/root_fs.h"
#include "snapshot/tree_walk.h"

namespace mkimg::snapshot {

namespace {

/// Applies every layer to `tree` in order and checks each one's diff_id.
void apply_layers(const std::vector<ImageLayer>& layers, const fs::path& tree,
                  const std::optional<ApplyOwner>& owner, const std::function<bool()>& keep_going) {
  ApplyLimits limits;
  limits.keep_going = keep_going;
  for (const ImageLayer& layer : layers) {
    ApplyResult r = apply_layer(layer.blob, tree, ApplyMode::kFlatten, limits, owner);
    if (r.diff_id != layer.diff_id) {
      throw Error(describe("apply layer", layer.blob.string(),
                           "diff_id " + r.diff_id + " does not match " + layer.diff_id));
    }
  }
}

/// `dir` and its missing parents, each made 0700 (BuildKit's client: MkdirAll(dest, 0700)).
void make_dest(const fs::path& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      throw Error(describe("write files to", dir.string(), "it exists and is not a directory"));
    }
    return;
  }
  if (errno != ENOENT) throw sys_error("write files to", dir.string());
  fs::path parent = dir.parent_path();
  if (!parent.empty() && parent != dir) make_dest(parent);
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    throw sys_error("create directory", dir.string());
  }
}

/// The owner, mode, kept xattrs and mtime of directory `from` (stat `st`) given to `to`.
void copy_dir_meta(int from, int to, const struct stat& st, const std::string& path) {
  if (::fchown(to, st.st_uid, st.st_gid) != 0) throw sys_error("chown", path);
  if (::fchmod(to, st.st_mode & 07777) != 0) throw sys_error("chmod", path);
  for (const auto& [key, value] : kept_xattrs(from)) {
    if (::fsetxattr(to, key.c_str(), value.data(), value.size(), 0) != 0) {
      throw sys_error("set xattr " + key + " on", path);
    }
  }
  timespec ts[2] = {st.st_atim, st.st_mtim};
  if (::futimens(to, ts) != 0) throw sys_error("set times of", path);
}

/// Moves every entry of directory `from` into directory `to`, merging (see the header).
/// `rel` names `from` for errors; `skip` is a name of `to` never merged into (the directory
/// `from` itself, when it lies inside `to`).
void merge_into(int from, int to, const std::string& rel, const std::string& skip) {
  for (const std::string& name : list_dir(from, "")) {
    std::string path = join_rel(rel, name);
    if (name == skip) throw Error(describe("write files to", path, "the name of the work area"));
    struct stat src {};
    if (::fstatat(from, name.c_str(), &src, AT_SYMLINK_NOFOLLOW) != 0) {
      throw sys_error("read", path);
    }
    struct stat dst {};
    bool exists = ::fstatat(to, name.c_str(), &dst, AT_SYMLINK_NOFOLLOW) == 0;
    if (!exists && errno != ENOENT) throw sys_error("read", path);
    if (exists && S_ISDIR(src.st_mode) && S_ISDIR(dst.st_mode)) {
      UniqueFd sub_from = open_beneath(from, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      UniqueFd sub_to = open_beneath(to, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      if (!sub_from || !sub_to) throw sys_error("open directory", path);
      merge_into(sub_from.get(), sub_to.get(), path, "");
      copy_dir_meta(sub_from.get(), sub_to.get(), src, path);
      continue;
    }
    // A directory on either side cannot be renamed over: what was there goes first.
    if (exists && (S_ISDIR(src.st_mode) || S_ISDIR(dst.st_mode))) remove_at(to, name);
    if (::renameat(from, name.c_str(), to, name.c_str()) != 0) throw sys_error("move", path);
  }
}

}  // namespace

void export_root_dir(const std::vector<ImageLayer>& layers, const fs::path& dest,
                     const ApplyOwner& owner, const std::function<bool()>& keep_going) {
  make_dest(dest);
  TempDir tree(dest, ".mkimg-output-");
  apply_layers(layers, tree.path(), owner, keep_going);
  UniqueFd from = open_tree_root(tree.path());
  UniqueFd to = open_tree_root(dest);
  merge_into(from.get(), to.get(), "", tree.path().filename().string());
}

int64_t export_root_tar(const std::vector<ImageLayer>& layers, const fs::path& work_dir, int out,
                        const LayerOptions& options) {
  TempDir tree(work_dir, "output-root-");
  apply_layers(layers, tree.path(), std::nullopt, options.keep_going);
  return write_tar_from_dir(tree.path(), out, options);
}

}  // namespace mkimg::snapshot
