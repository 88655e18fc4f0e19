// Internal to snapshot/: the entries of a layer as the two diff paths find them, and the
// rule both apply (see snapshot.h): a directory is in the layer when its own metadata
// changed, when it is new or re-created, or when it is an ancestor of an entry in the layer.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "snapshot/layer_writer.h"
#include "snapshot/tree_walk.h"

namespace mkimg::snapshot {

/// Collects the entries of a layer; adding an entry adds its ancestor directories too.
class ChangeSet {
 public:
  void add(const std::string& path) {
    for (std::size_t slash = path.find('/'); slash != std::string::npos;
         slash = path.find('/', slash + 1)) {
      tree_.insert(path.substr(0, slash));
    }
    tree_.insert(path);
  }
  /// A whiteout for `path`: `dir/.wh.name`.
  void add_whiteout(const std::string& path) {
    auto [dir, name] = split_rel(path);
    marker(dir, ".wh." + name);
  }
  /// The opaque marker of directory `dir` (which is added too).
  void add_opaque(const std::string& dir) {
    add(dir);
    marker(dir, ".wh..wh..opq");
  }
  std::vector<LayerEntry> entries() const {
    std::vector<LayerEntry> out;
    for (const std::string& path : tree_) out.push_back({path, EntryKind::kTree});
    for (const std::string& path : whiteouts_) out.push_back({path, EntryKind::kWhiteout});
    return out;
  }

 private:
  void marker(const std::string& dir, const std::string& name) {
    if (!dir.empty()) add(dir);
    whiteouts_.insert(dir.empty() ? name : dir + "/" + name);
  }
  std::set<std::string> tree_;
  std::set<std::string> whiteouts_;
};

/// Whether a directory's contents need comparing or are all part of the layer.
enum class DirContext { kCompare, kAllNew };

}  // namespace mkimg::snapshot
