// .dockerignore patterns with Docker's rules (moby/patternmatcher): `*`, `?`, `[...]`, `**`,
// `!` exceptions, leading `/`, `./` and path cleaning; the last matching pattern wins.
// Pure functions: the builder reads the file (.dockerignore, or <Dockerfile>.dockerignore).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mkimg::parser {

/// Whether a pattern ignores what it matches or re-includes it (`!pattern`).
enum class PatternKind { kExclude, kInclude };

/// One cleaned pattern of a .dockerignore file.
struct IgnorePattern {
  std::string pattern;  ///< cleaned: no leading '/', no "./", no '!', no trailing '/'
  PatternKind kind = PatternKind::kExclude;
  std::vector<std::string> segments;  ///< `pattern` split on '/'
};

/// A parsed .dockerignore: its patterns in file order.
struct Dockerignore {
  std::vector<IgnorePattern> patterns;
};

/// Parses a .dockerignore file: one pattern a line, `#` comments, blank lines skipped,
/// surrounding spaces trimmed. Throws mkimg::Error for a malformed pattern (e.g. `[a-`).
Dockerignore parse_dockerignore(std::string_view text);

/// Whether `relative_path` (relative to the context root, '/'-separated; cleaned here) is
/// excluded: the last pattern that matches the path or one of its parent directories decides.
bool ignored(const Dockerignore& ignore, std::string_view relative_path);

/// Whether an excluded directory must still be walked because an exception (`!pattern`) could
/// re-include something below it.
bool must_walk_excluded_directory(const Dockerignore& ignore, std::string_view relative_dir);

}  // namespace mkimg::parser
