// Internal to snapshot/: makes one tar entry real inside a root, hostile input assumed
// (see root_fs.h for how paths resolve). Used by apply_layer for both apply modes.
#pragma once

#include <time.h>

#include <optional>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "snapshot/apply.h"
#include "snapshot/root_fs.h"

struct archive;
struct archive_entry;

namespace mkimg::snapshot {

/// Applies the entries of one layer, in stream order, to the tree under `root`.
class EntryApplier {
 public:
  /// With `owner`, every entry is owned by it instead of the owner its header names.
  EntryApplier(int root, ApplyMode mode, const ApplyLimits& limits,
               const std::optional<ApplyOwner>& owner = std::nullopt);

  /// Applies `e`, reading its data from `a`. Throws mkimg::Error on a refused entry.
  void apply(archive* a, archive_entry* e);
  /// Sets the directory times held back while their contents were written.
  void finish();

 private:
  void whiteout(const RootPath& path);
  void opaque(const RootPath& dir);
  void hardlink(const RootPath& path, const char* target);
  void regular(archive* a, archive_entry* e, const RootPath& path);
  void directory(archive_entry* e, const RootPath& path);
  void special(archive_entry* e, const RootPath& path);
  void mark_written(const RootPath& path);
  bool written(const RootPath& path) const;

  int root_;
  ApplyMode mode_;
  ApplyLimits limits_;
  std::optional<ApplyOwner> owner_;
  std::unordered_set<std::string> written_;
  std::vector<std::pair<RootPath, timespec>> dir_times_;
};

}  // namespace mkimg::snapshot
