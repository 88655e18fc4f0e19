// COPY/ADD in two halves: select() reads the sources (wildcards, .dockerignore, --exclude,
// directory walks, content hashes through the stat-keyed memo) without touching the image,
// which is all the cache key needs; apply() writes them into the step's merged root, every
// destination resolved inside that root (symlinks in the image never lead out of it).
// direct_copy_entries() is the third half: a COPY onto new paths is written straight from its
// sources into the layer (tar and compression on all cores, no copy on disk first). When a
// later step reads the stage's root, the same entries are written as files straight into the
// step's upper directory meanwhile (snapshot::materialize_spec, no overlay mounted); otherwise
// the layer is unpacked only if needed later. A rebuild reuses the unchanged files and gzip
// members of the last run (recall.h).
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "builder/context_hash.h"
#include "builder/copy/rules.h"
#include "parser/dockerignore.h"
#include "snapshot/layer_writer.h"

namespace mkimg::builder {

/// One file, directory or symlink to copy.
struct CopyFile {
  std::string sub;    ///< path below its source ("" for the source itself)
  mode_t type = 0;    ///< S_IFREG, S_IFDIR, S_IFLNK
  unsigned mode = 0;  ///< permission bits as copied (after --chmod)
  uid_t uid = 0;
  gid_t gid = 0;
  struct timespec mtime {};
  std::string digest;                  ///< regular files: sha256 of the content
  std::string link_target;             ///< symlinks
  std::optional<std::string> content;  ///< heredoc sources: the bytes themselves
  std::string hardlink_to;             ///< regular files: the sub of an earlier file, same inode
  dev_t dev = 0;                       ///< the source's device and inode (finding hardlinks)
  ino_t ino = 0;
  nlink_t nlink = 0;
};

/// One selected source (after wildcard expansion) and what it holds.
struct CopySource {
  std::string relative;   ///< cleaned path in the source root ("" = the root)
  std::string read_from;  ///< where it is read: `relative`, or where a symlink there leads
  bool is_dir = false;
  std::vector<CopyFile> files;  ///< the source itself first, then its contents, sorted
};

/// Where sources are read from and how their metadata is set.
struct CopyInput {
  std::filesystem::path root;  ///< the build context, or a stage/image view
  enum class Kind { kContext, kImage } kind = Kind::kContext;
  const parser::Dockerignore* ignore = nullptr;  ///< context only
  parser::Dockerignore excludes;                 ///< --exclude patterns
  std::optional<Chmod> chmod;
  ContextHasher* hasher = nullptr;
};

/// A file's part of a cache key: "type mode uid:gid digest link-target hardlink-to", built in
/// a string of its exact size (a COPY of 100,000 files keeps 100,000 of them while it runs).
std::string file_key(const CopyFile& f);

/// Selects and hashes every source. Throws mkimg::Error for a source that does not exist (or
/// is excluded by .dockerignore) and for a wildcard that matches nothing.
std::vector<CopySource> select_sources(const CopyInput& input,
                                       const std::vector<std::string>& sources);

/// Ownership for apply(): --chown resolved, or nullopt to keep each file's own.
struct CopyOwner {
  uid_t uid = 0;
  gid_t gid = 0;
};

/// Writes `sources` into the root `merged`: each lands at target_path(...) below `dest`.
/// Parent directories that do not exist are created (0755, owned by `owner` when given).
void apply_sources(const CopyInput& input, const std::vector<CopySource>& sources,
                   const std::filesystem::path& merged, const Destination& dest,
                   std::optional<CopyOwner> owner, Parents parents, bool force_dir_dest);

/// COPY straight into a layer: the entries apply_sources() would give on the image whose root
/// is the read-only `view`, for snapshot::write_layer_spec(); regular files are read from
/// `src_root` (input.root, kept open until the layer is written) or their inline content. The
/// image's directories on the way are in the layer as the overlay copies them up; directories
/// the step creates, or adds an entry to, get the mtime `now`. nullopt when the step needs the
/// overlay: something of the image is at a target path (other than a directory a source
/// directory merges into), a symlink or non-directory is on the way, a target is written twice.
/// The entries carry what snapshot::materialize_spec() needs to write the same files to disk
/// (nanosecond mtimes, content digests).
std::optional<std::vector<snapshot::SpecEntry>> direct_copy_entries(
    const std::vector<CopySource>& sources, int src_root, const std::filesystem::path& view,
    const Destination& dest, std::optional<CopyOwner> owner, Parents parents, bool force_dir_dest,
    int64_t now);

/// True when `path` is an existing directory inside the root `merged` (symlinks resolved in
/// the root).
bool is_directory_in_root(const std::filesystem::path& merged, const std::string& path);

}  // namespace mkimg::builder
