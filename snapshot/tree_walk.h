// Internal to snapshot/: reading a tree that may be hostile, by file descriptor only.
#pragma once

#include <sys/stat.h>

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/fd.h"
#include "common/in_root.h"  // join_rel

namespace mkimg::snapshot {

/// Opens a directory to walk or read from; throws mkimg::Error when it cannot.
UniqueFd open_tree_root(const std::string& path);

/// Opens `rel` beneath `root` with `flags` (O_CLOEXEC added) following no symlink at all,
/// not even in the last component when `flags` has O_PATH|O_NOFOLLOW. Empty `rel` is the root
/// itself. Returns an invalid fd with errno set on failure.
UniqueFd open_beneath(int root, const std::string& rel, int flags);

/// lstat of `rel` beneath `root` without following symlinks; nullopt when it does not exist.
std::optional<struct stat> stat_beneath(int root, const std::string& rel);

/// The names in directory `rel` beneath `root`, sorted bytewise ("." and ".." left out).
std::vector<std::string> list_dir(int root, const std::string& rel);

/// Calls `visit(rel, st)` for every entry under `root` in layer order (parents first, names
/// sorted); descends into a directory only when `visit` returns true. Never follows symlinks.
void walk_tree(int root, const std::function<bool(const std::string&, const struct stat&)>& visit);

/// The inverse of join_rel (common/in_root.h): "a/b/c" -> {"a/b", "c"}; "c" -> {"", "c"}.
std::pair<std::string, std::string> split_rel(const std::string& rel);

/// The sorted names of the xattrs a layer keeps (security.capability, user.*) of the regular
/// file or directory `fd` (other types have none in a layer), with their values.
std::vector<std::pair<std::string, std::string>> kept_xattrs(int fd);

/// True for the xattrs a layer may carry and apply may set.
bool is_kept_xattr(const std::string& name);

}  // namespace mkimg::snapshot
