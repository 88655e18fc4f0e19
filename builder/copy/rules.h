// Docker's COPY/ADD path rules as pure functions: sources are cleaned as if the context were
// "/" (so `../x` is `/x` of the context, RELIABILITY 16), wildcards match one path component
// at a time (Go's filepath.Match), a directory source copies its contents, and the
// destination is a directory when it ends with "/", when there are several sources or a
// wildcard, or when it already is a directory in the image. --chmod (Chmod) is octal or
// symbolic.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mkimg::builder {

/// A source path relative to the context root: cleaned, no leading "/", "" for the root.
std::string clean_source(std::string_view source);

/// True when a path has a wildcard character (*, ?, [).
bool has_wildcard(std::string_view path);

/// True when `name` matches one wildcard path component (fnmatch, '/' never matched).
bool match_component(std::string_view pattern, std::string_view name);

/// The absolute destination of COPY/ADD: relative to `workdir` unless absolute, cleaned;
/// a trailing "/" in `dest` is kept as `dir_hint`.
struct Destination {
  std::string path;       ///< absolute, cleaned, no trailing slash ("/" for the root)
  bool dir_hint = false;  ///< written with a trailing "/" (or "." / "..")
};
Destination resolve_destination(std::string_view dest, std::string_view workdir);

/// `dest` with its symlinks resolved inside `root`, the last component's too, as BuildKit's
/// copy does: a COPY onto `/link -> /target` writes /target and keeps the link, also when the
/// target does not exist yet.
Destination resolved_in(const Destination& dest, const std::filesystem::path& root);

/// Throws when several sources go to a destination that is not written as a directory.
void check_multiple_sources(const Destination& dest, std::size_t source_count,
                            std::string_view instruction);

/// Where a source lands. `dest_is_dir`: the destination is (or will be) a directory;
/// `source_is_dir`: the source is a directory (its contents are copied). `relative` is the
/// source's cleaned context path, used with --parents.
enum class Parents { kNo, kYes };
std::string target_path(const Destination& dest, bool dest_is_dir, bool source_is_dir,
                        std::string_view relative, Parents parents);

/// COPY/ADD --chmod: an octal mode ("0755", "755") that replaces each file's permission bits,
/// or chmod(1)'s symbolic clauses ("u+x,go-w", "a=rX", "g=u"), applied to each file's own mode
/// as BuildKit does since Dockerfile 1.14 (BSD setmode with no umask: a clause without a
/// who is for all; `=` clears the who's bits, set-id and sticky too, before it sets).
class Chmod {
 public:
  /// Throws mkimg::Error naming `text` when it is neither.
  static Chmod parse(std::string_view text);

  /// The permission bits (07777) a file of mode `mode` gets; X counts for a directory.
  unsigned apply(unsigned mode, bool is_dir) const;

 private:
  struct Op {
    unsigned who = 0;   ///< the bits the clause may touch (u: 04700, g: 02070, o: 01007)
    char op = '+';      ///< + - =
    unsigned perm = 0;  ///< r w x s t as bits in every class, masked by `who` when applied
    bool x_if = false;  ///< X: x when a directory or when some x bit is already set
    int copy = -1;      ///< u g o as the permission: the shift (6, 3, 0) of the class copied
  };
  std::optional<unsigned> octal_;
  std::vector<Op> ops_;
};

}  // namespace mkimg::builder
