// A layer given as SpecEntries (layer_writer.h) made real as files in an empty directory: the
// upper directory of a COPY written straight into its layer, for the steps after it. Regular
// files whose content an earlier layer directory already holds at the same path, with the same
// metadata, are hardlinked to it instead of written again (layer directories are never written
// to once made: steps change them through an overlay's copy-up), so a rebuild after one changed
// file writes one file and links the rest.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "snapshot/layer_writer.h"

namespace mkimg::snapshot {

/// Files of an earlier layer directory a new one may share.
struct SharedFiles {
  fs::path dir;  ///< the earlier layer's directory
  /// Its entries by path, with their fingerprints (SpecEntry::fingerprint).
  const EarlierEntries* entries = nullptr;
};

/// What materialize_spec() did.
struct MaterializeStats {
  int64_t linked = 0;   ///< regular files shared with SharedFiles::dir
  int64_t written = 0;  ///< regular files written
  /// Regular files whose source changed (size or mtime) while it was copied: their content
  /// may not be the one their digest names.
  std::vector<std::string> changed;
};

/// Creates `entries` (any order; every parent directory of an entry must be an entry too)
/// under the empty directory `dir`: owner, mode, xattrs and mtime (with mtime_nsec) as given.
/// A regular file whose fingerprint `shared` holds at its path, and whose file there has the
/// same mode, owner and mtime, becomes a hardlink to that file. Throws mkimg::Error on failure, and
/// "create `path`: interrupted" when `keep_going` (asked before each entry and between chunks of a
/// file's content) returns false.
MaterializeStats materialize_spec(const std::vector<SpecEntry>& entries, const fs::path& dir,
                                  const SharedFiles* shared = nullptr,
                                  const std::function<bool()>& keep_going = {});

}  // namespace mkimg::snapshot
