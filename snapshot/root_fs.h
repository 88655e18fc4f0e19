// Internal to snapshot/: file system operations confined to a root directory, for applying
// hostile layers. Every path is a list of clean components (no "", ".", ".."), resolved from
// the root fd with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV): a
// symlink met on the way, absolute or relative, resolves inside the root. The last component
// is never followed; operations on it use the parent's fd and *at calls.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/fd.h"

namespace mkimg::snapshot {

/// A path inside a root, as clean components.
using RootPath = std::vector<std::string>;

/// Splits a tar entry name or hardlink target into components; a leading "/" and "." parts
/// are dropped. Throws mkimg::Error for "..", an over-long name or a NUL byte. The empty
/// result is the root itself.
RootPath clean_path(std::string_view name, std::size_t max_bytes);

/// "a/b/c".
std::string join(const RootPath& path);

/// Whether open_dir creates missing directories.
enum class Missing { kCreate, kFail };

/// The directory at `dir` (all components) inside `root` as an O_PATH fd, resolved in the root.
/// With Missing::kCreate, missing directories are made (0755, root:root); throws mkimg::Error
/// when a component is not a directory. With Missing::kFail returns an invalid fd when missing.
UniqueFd open_dir(int root, const RootPath& dir, Missing missing);

/// The directory holding `path`'s last component (see open_dir).
UniqueFd open_parent(int root, const RootPath& path, Missing missing);

/// Removes `name` in directory `dir` and, if it is a directory, everything below it, never
/// following a symlink. Missing is fine.
void remove_at(int dir, const std::string& name);

}  // namespace mkimg::snapshot
