// The change a step made, as a layer: from an overlay upper directory, or by comparing a tree
// with the state recorded before the step. Both give the same bytes for the same change.
// See snapshot.h.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "snapshot/layer_writer.h"

namespace mkimg::snapshot {

namespace fs = std::filesystem;

/// What diff_walk needs to know of one entry before the step (stat only, never content).
struct EntryStat {
  mode_t mode = 0;  ///< type and permission bits
  uid_t uid = 0;
  gid_t gid = 0;
  ino_t ino = 0;
  nlink_t nlink = 0;
  int64_t size = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  int64_t birth_ns = 0;     ///< directories only (statx btime; 0 if unknown): tells a re-created
  uint64_t generation = 0;  ///< one from one that got the same inode number back (with this)
  std::string xattrs;       ///< directories only: the kept xattrs, "name=value" joined by NUL
  friend bool operator==(const EntryStat&, const EntryStat&) = default;
};

/// A tree as it was before a step: relative path -> stat. Recorded in the same tree the step
/// then runs in (inode numbers must stay meaningful).
struct TreeState {
  std::map<std::string, EntryStat> entries;
};

/// Records the state of every entry under `root` (not `root` itself), without following
/// symlinks or crossing into other file systems' content.
TreeState record_tree(const fs::path& root);

/// The entries of the layer for the change in overlay upper dir `upper` over `lowers` (top
/// first): overlay whiteouts become `.wh.NAME`, opaque directories `.wh..wh..opq` plus their
/// contents. Reads only the upper dir and the lower entries it names. The overlay must have
/// been mounted with metacopy=off and redirect_dir=off (an upper dir using either is refused).
std::vector<LayerEntry> overlay_changes(const fs::path& upper, const std::vector<fs::path>& lowers);

/// The entries of the layer for the change from `before` to the tree now at `root`.
std::vector<LayerEntry> walk_changes(const TreeState& before, const fs::path& root);

/// overlay_changes() written as a layer (content read from `upper`).
LayerBlob diff_overlay_upper(const fs::path& upper, const std::vector<fs::path>& lowers,
                             const fs::path& out_file, const LayerOptions& options);

/// walk_changes() written as a layer (content read from `root`).
LayerBlob diff_walk(const TreeState& before, const fs::path& root, const fs::path& out_file,
                    const LayerOptions& options);

}  // namespace mkimg::snapshot
