// A layer given as SpecEntries (layer_writer.h) made real as files in an empty directory: the
// upper directory of a COPY written straight into its layer, for the steps after it. Regular
// files whose content an earlier layer directory already holds at the same path, with the same
// metadata, are hardlinked to it instead of written again (layer directories are never written
// to once made: steps change them through an overlay's copy-up). Or only what differs from an
// earlier layer is made (materialize_delta), to be stacked directly above the whole directory
// at the bottom of that layer's (layer_store.h): a rebuild after one changed file then writes one
// file and touches no other, and the stack stays two directories deep however many follow.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "snapshot/layer_writer.h"

namespace mkimg::snapshot {

/// Files of an earlier layer a new one may share.
struct SharedFiles {
  /// The earlier layer's directories, bottom first (one, or a stack: layer_store.h layer_dirs).
  std::vector<fs::path> dirs;
  /// Its entries by path, with their fingerprints (SpecEntry::fingerprint).
  const EarlierEntries* entries = nullptr;
};

/// What materialize_spec() did.
struct MaterializeStats {
  int64_t linked = 0;     ///< regular files shared with SharedFiles::dirs
  int64_t written = 0;    ///< regular files written
  int64_t kept = 0;       ///< materialize_delta: entries the earlier layer holds as they are
  int64_t whiteouts = 0;  ///< materialize_delta: earlier entries hidden
  /// Regular files whose source changed (size or mtime) while it was copied: their content
  /// may not be the one their digest names.
  std::vector<std::string> changed;
};

/// Creates `entries` (any order; every parent directory of an entry must be an entry too)
/// under the empty directory `dir`: owner, mode, xattrs and mtime (with mtime_nsec) as given.
/// The directories first, then the files and symlinks on every core (a range of them in layer
/// order a thread), then the files of hardlink groups; `changed` is in layer order.
/// A regular file whose fingerprint `shared` holds at its path, and whose file there has the
/// same mode, owner and mtime, becomes a hardlink to that file. Throws mkimg::Error on failure, and
/// "create `path`: interrupted" when `keep_going` (asked before each entry and between chunks of a
/// file's content) returns false.
MaterializeStats materialize_spec(const std::vector<SpecEntry>& entries, const fs::path& dir,
                                  const SharedFiles* shared = nullptr,
                                  const std::function<bool()>& keep_going = {});

/// Creates under the empty directory `dir` only what makes `entries` out of the earlier layer
/// `earlier` (its entries by path, all of them, with fingerprints) when `dir` is mounted
/// directly above the bottom one of `earlier_dirs`, that layer's directories (layer_store.h
/// layer_dirs: one whole directory, or a stack of deltas on one). Made: every entry without a
/// fingerprint or with another one than the earlier layer's, every entry at a path a delta of
/// the stack holds (a file unchanged since is linked from there), the directories on their way
/// (with their metadata), and a whiteout (a 0/0 character device) for each earlier entry that
/// is gone and whose parent is not, and for each entry of the bottom directory, in a directory
/// a delta holds, that `entries` does not have. So a stack is never more than two directories
/// deep (a delta on a whole one), however many rebuilds made it, and costs what changed since
/// the whole one. Otherwise as materialize_spec(). A whiteout hides what is below it too, where
/// the new layer hides nothing: `nothing_below(path)` must say that the layers the new one goes
/// on have nothing at `path`. Nothing is made, and nullopt returned, when a path to hide is not
/// so, or when the delta is more than half of the entries (a whole directory is then better).
std::optional<MaterializeStats> materialize_delta(
    const std::vector<SpecEntry>& entries, const fs::path& dir, const EarlierEntries& earlier,
    const std::vector<fs::path>& earlier_dirs,
    const std::function<bool(const std::string& path)>& nothing_below,
    const std::function<bool()>& keep_going = {});

}  // namespace mkimg::snapshot
