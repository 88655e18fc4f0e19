// .dockerignore patterns with Docker's rules (moby/patternmatcher): `*`, `?`, `[...]`, `**`,
// `!` exceptions, leading `/`, `./` and path cleaning; the last matching pattern wins.
// Pure functions: the builder reads the file (.dockerignore, or <Dockerfile>.dockerignore).
// Each pattern is compiled once, when the file is parsed; a path is then tested against the
// literal patterns all at once (a hash lookup per path and parent) and against the others
// from the last one back, the first that matches deciding, most turned away by their length or
// their literal head and tail. A hostile file is bounded: at most kMaxIgnorePatterns patterns
// of kMaxIgnorePatternBytes each (the cli refuses a file over 16 MiB before reading it).
#pragma once

#include <cstddef>
#include <memory>
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
};

/// The patterns compiled for matching (dockerignore.cpp).
struct CompiledIgnore;

/// A parsed .dockerignore: its patterns in file order, and compiled.
struct Dockerignore {
  std::vector<IgnorePattern> patterns;
  std::shared_ptr<const CompiledIgnore> compiled;  ///< made by parse_dockerignore()
};

/// The longest pattern accepted (PATH_MAX: a longer one is no path of a context).
inline constexpr std::size_t kMaxIgnorePatternBytes = 4096;
/// The most patterns a .dockerignore may have.
inline constexpr std::size_t kMaxIgnorePatterns = 100000;

/// Parses a .dockerignore file: one pattern a line, `#` comments, blank lines skipped,
/// surrounding spaces trimmed. Throws mkimg::Error "<source>:<line>: ..." for a malformed
/// pattern (e.g. `[a-`), a pattern over kMaxIgnorePatternBytes, or one beyond
/// kMaxIgnorePatterns.
Dockerignore parse_dockerignore(std::string_view text, std::string_view source = ".dockerignore");

/// Whether `relative_path` (relative to the context root, '/'-separated; cleaned here) is
/// excluded: the last pattern that matches the path or one of its parent directories decides.
bool ignored(const Dockerignore& ignore, std::string_view relative_path);

/// Whether an excluded directory must still be walked because an exception (`!pattern`) could
/// re-include something below it.
bool must_walk_excluded_directory(const Dockerignore& ignore, std::string_view relative_dir);

}  // namespace mkimg::parser
