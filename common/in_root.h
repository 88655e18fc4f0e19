// Paths inside an image root resolved safely: every lookup goes through openat2 with
// RESOLVE_IN_ROOT, so `..` and symlinks (absolute or relative) never leave the root
// (docs/security.md 4, 13, 14). open_resolved is the one openat2 call of mkimg; the other
// folders pass it their own RESOLVE_* flags (snapshot/ adds RESOLVE_NO_XDEV, and walks hostile
// trees with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS). Also the host files mkimg reads whole
// (read_host_file) and writes atomically (AtomicFile, write_file_atomic: the one
// write-then-rename of the project).
#pragma once

#include <linux/openat2.h>  // RESOLVE_*, for open_resolved's callers

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "common/fd.h"

namespace mkimg {

/// How many times open_resolved asks again when openat2 answers EAGAIN (a rename or mount
/// elsewhere raced the lookup under RESOLVE_IN_ROOT or RESOLVE_BENEATH).
inline constexpr int kOpenResolvedAttempts = 128;

/// openat2(dir_fd, path, flags | O_CLOEXEC, mode, resolve): `path` looked up below `dir_fd` as
/// the RESOLVE_* flags in `resolve` allow; "" is `dir_fd` itself. `mode` counts only with
/// O_CREAT or O_TMPFILE. Retried on EAGAIN up to kOpenResolvedAttempts times in all. Returns an
/// invalid fd with errno set on failure (EAGAIN when every attempt raced).
UniqueFd open_resolved(int dir_fd, const std::string& path, std::uint64_t resolve, int flags,
                       unsigned mode = 0);

/// Opens the directory `root` itself (O_PATH | O_DIRECTORY | O_CLOEXEC).
UniqueFd open_root(const std::filesystem::path& root);

/// open_resolved(root_fd, path, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS, flags, mode), with
/// leading slashes of `path` dropped ("/" is the root). Returns an invalid fd with errno set on
/// failure.
UniqueFd open_in_root(int root_fd, const std::string& path, int flags, unsigned mode = 0);

/// The whole of a regular file inside the root, or nullopt when it does not exist.
/// Throws when it is not a regular file or is larger than `limit` bytes.
std::optional<std::string> read_file_in_root(int root_fd, const std::string& path,
                                             std::size_t limit);

/// `path` with every symlink along it resolved inside the root, as a runtime resolves a mount
/// destination and BuildKit a WORKDIR or COPY destination (securejoin): an absolute path
/// without `.`, `..` or symlinks. Components that do not exist are kept as they are, so a
/// dangling link leads to where its target would be (`/lnk -> /real`: "/lnk/x" is
/// "/real/x"). Throws naming the path after 40 links (a loop).
std::string resolve_in_root(int root_fd, const std::string& path);

/// Creates every missing directory of `path` inside the root (mode 0755, root-owned) and
/// returns an fd on the last one. Symlinks along the way resolve inside the root, dangling ones
/// included (their target is created).
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

/// The parent of a relative path, viewing `rel`: "a/b/c" -> "a/b"; "c" -> "".
inline std::string_view parent_rel(std::string_view rel) {
  std::size_t slash = rel.rfind('/');
  return slash == std::string_view::npos ? std::string_view() : rel.substr(0, slash);
}

/// Reads a whole host file (the build context, a Dockerfile); throws on error.
std::string read_host_file(const std::filesystem::path& path);

/// What write_file_atomic() flushes to disk.
enum class Flush {
  /// The file, before the rename: after a power cut the path holds the old or the new bytes.
  kYes,
  /// kYes, and the directory after the rename: the new file is there for good once the call
  /// returns (the store's own files: index.json, oci-layout, a layer directory's `below`).
  kWithDirectory,
  /// For a file whose loss or tearing by a power cut is harmless because every reader checks
  /// it (a step cache entry: a torn one does not parse and is a miss): the rename alone, no
  /// device flush.
  kNo,
};

/// A file written under a temp name and renamed onto `path` by commit(): a reader sees the old
/// file or the whole new one, never a torn one. The temp file (`mode` less the umask) is beside
/// `path`, or in `temp_dir` (on the same file system; a store's tmp/, swept when the store
/// opens, so a crash leaves nothing beside its files); it is removed unless committed. The one
/// write-then-rename of the project: write_file_atomic(), `mkimg save`, a tar export and a
/// local cache's blobs write through it.
class AtomicFile {
 public:
  explicit AtomicFile(std::filesystem::path path, mode_t mode = 0644,
                      const std::filesystem::path& temp_dir = {});
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();

  /// The temp file, open for writing.
  int fd() const { return fd_.get(); }
  const std::filesystem::path& temp_path() const { return tmp_; }
  /// Flushes as `flush` says and renames the temp file onto the path. Throws mkimg::Error
  /// naming the path (the temp file is removed then).
  void commit(Flush flush = Flush::kYes);

 private:
  std::filesystem::path path_, tmp_;
  UniqueFd fd_;
  bool committed_ = false;
};

/// Writes `data` to `path` through an AtomicFile (`mode`, `temp_dir`) committed with `flush`.
void write_file_atomic(const std::filesystem::path& path, std::string_view data,
                       Flush flush = Flush::kYes, const std::filesystem::path& temp_dir = {},
                       mode_t mode = 0644);

/// The file an output the user named (save -o, --output dest=, --iidfile) is renamed onto:
/// `path` itself, or the file its symlinks lead to (written through, as `docker save -o`
/// does). Throws mkimg::Error naming the path when that is anything but a regular file or
/// nothing yet (a FIFO, a device, a directory, a socket, /proc/self/fd/N): no rename may
/// replace it. `-` (stdout) is for the caller to handle before.
std::filesystem::path output_target(const std::filesystem::path& path);

}  // namespace mkimg
