#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "common/error.h"
#include "common/user_namespace.h"
#include "snapshot/change_set.h"
#include "snapshot/diff.h"
#include "snapshot/tree_walk.h"

namespace mkimg::snapshot {

namespace {

bool is_whiteout(const struct stat& st) {
  return S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0);
}

/// The value of xattr `name` of the regular file or directory `rel` beneath `root`.
std::string xattr_of(int root, const std::string& rel, const std::string& name) {
  UniqueFd fd = open_beneath(root, rel, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  if (!fd) return {};
  char value[256];
  ssize_t n = ::fgetxattr(fd.get(), name.c_str(), value, sizeof value);
  return n > 0 ? std::string(value, static_cast<std::size_t>(n)) : std::string();
}

std::vector<std::pair<std::string, std::string>> xattrs_of_dir(int root, const std::string& rel) {
  UniqueFd fd = open_beneath(root, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  return fd ? kept_xattrs(fd.get()) : std::vector<std::pair<std::string, std::string>>{};
}

/// Reads an overlay upper directory against its lower directories.
class UpperReader {
 public:
  UpperReader(int upper, const std::vector<fs::path>& lowers) : upper_(upper) {
    for (const fs::path& lower : lowers) lowers_.push_back(open_tree_root(lower));
  }

  void dir(const std::string& rel, DirContext context) {
    for (const std::string& name : list_dir(upper_, rel)) entry(join_rel(rel, name), context);
  }

  ChangeSet& changes() { return changes_; }

 private:
  // Overlay's marker names on this host (trusted.overlay.*, or user.overlay.* in a user
  // namespace), named once for the whole diff.
  const std::string opaque_ = overlay_xattr("opaque");
  const std::string redirect_ = overlay_xattr("redirect");
  const std::string metacopy_ = overlay_xattr("metacopy");

  void refuse_overlay_features(const std::string& rel, const struct stat& st) {
    if (S_ISREG(st.st_mode) && !xattr_of(upper_, rel, metacopy_).empty()) {
      throw Error(describe("diff", rel, "metacopy upper files are not supported"));
    }
    if (S_ISDIR(st.st_mode) && !xattr_of(upper_, rel, redirect_).empty()) {
      throw Error(describe("diff", rel, "redirected directories are not supported"));
    }
  }

  void entry(const std::string& rel, DirContext context) {
    std::optional<struct stat> st = stat_beneath(upper_, rel);
    if (!st) return;
    if (is_whiteout(*st)) {
      changes_.add_whiteout(rel);
      return;
    }
    refuse_overlay_features(rel, *st);
    if (!S_ISDIR(st->st_mode)) {
      changes_.add(rel);
      return;
    }
    if (xattr_of(upper_, rel, opaque_) == "y") {
      changes_.add_opaque(rel);
      dir(rel, DirContext::kAllNew);
      return;
    }
    std::optional<std::pair<int, struct stat>> lower;
    if (context == DirContext::kCompare) lower = find_lower(rel);
    if (!lower || !S_ISDIR(lower->second.st_mode)) {
      changes_.add(rel);
      dir(rel, DirContext::kAllNew);
      return;
    }
    if (dir_differs(rel, *st, lower->first, lower->second)) changes_.add(rel);
    dir(rel, DirContext::kCompare);
  }

  bool dir_differs(const std::string& rel, const struct stat& a, int lower, const struct stat& b) {
    return a.st_mode != b.st_mode || a.st_uid != b.st_uid || a.st_gid != b.st_gid ||
           a.st_mtim.tv_sec != b.st_mtim.tv_sec || a.st_mtim.tv_nsec != b.st_mtim.tv_nsec ||
           xattrs_of_dir(upper_, rel) != xattrs_of_dir(lower, rel);
  }

  /// The entry `rel` as the lowers show it (top first), if any.
  std::optional<std::pair<int, struct stat>> find_lower(const std::string& rel) {
    std::string parent = split_rel(rel).first;
    for (const UniqueFd& lower : lowers_) {
      if (std::optional<struct stat> st = stat_beneath(lower.get(), rel)) {
        if (is_whiteout(*st)) return std::nullopt;
        return std::make_pair(lower.get(), *st);
      }
      if (!parent.empty() && xattr_of(lower.get(), parent, opaque_) == "y") {
        return std::nullopt;
      }
    }
    return std::nullopt;
  }

  int upper_;
  std::vector<UniqueFd> lowers_;
  ChangeSet changes_;
};

}  // namespace

std::vector<LayerEntry> overlay_changes(const fs::path& upper,
                                        const std::vector<fs::path>& lowers) {
  try {
    UniqueFd fd = open_tree_root(upper);
    UpperReader reader(fd.get(), lowers);
    reader.dir("", DirContext::kCompare);
    return reader.changes().entries();
  } catch (const std::exception& e) {
    throw with_context("diff `" + upper.string() + "`", e);
  }
}

LayerBlob diff_overlay_upper(const fs::path& upper, const std::vector<fs::path>& lowers,
                             const fs::path& out_file, const LayerOptions& options) {
  return write_layer(upper, overlay_changes(upper, lowers), out_file, options);
}

}  // namespace mkimg::snapshot
