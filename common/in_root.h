// Paths inside an image root resolved safely: every lookup goes through openat2 with
// RESOLVE_IN_ROOT, so `..` and symlinks (absolute or relative) never leave the root
// (docs/security.md 4, 13, 14).
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>

#include "common/fd.h"

namespace mkimg {

/// Opens the directory `root` itself (O_PATH | O_DIRECTORY | O_CLOEXEC).
UniqueFd open_root(const std::filesystem::path& root);

/// openat2(root_fd, path, flags | O_CLOEXEC, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS).
/// Returns an invalid fd with errno set on failure.
UniqueFd open_in_root(int root_fd, const std::string& path, int flags, unsigned mode = 0);

/// The whole of a regular file inside the root, or nullopt when it does not exist.
/// Throws when it is not a regular file or is larger than `limit` bytes.
std::optional<std::string> read_file_in_root(int root_fd, const std::string& path,
                                             std::size_t limit);

/// Creates every missing directory of `path` inside the root (mode 0755, root-owned) and
/// returns an fd on the last one. Symlinks along the way resolve inside the root.
UniqueFd make_dirs_in_root(int root_fd, const std::string& path);

/// The owner given to directories make_dirs_in_root creates.
struct DirOwner {
  unsigned uid = 0;
  unsigned gid = 0;
};

/// As above, but every directory it creates is owned by `owner` (WORKDIR under USER,
/// COPY --chown), like BuildKit.
UniqueFd make_dirs_in_root(int root_fd, const std::string& path, DirOwner owner);

/// "a/b" + "c" -> "a/b/c"; "" + "c" -> "c"; "a" + "" -> "a" (relative paths).
std::string join_rel(const std::string& a, const std::string& b);

/// Reads a whole host file (the build context, a Dockerfile); throws on error.
std::string read_host_file(const std::filesystem::path& path);

/// Writes `data` to `path` atomically: a temp file beside it, fsync, rename.
void write_file_atomic(const std::filesystem::path& path, const std::string& data);

}  // namespace mkimg
