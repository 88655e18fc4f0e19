// The shell patterns of ${V#p}, ${V%p} and ${V/p/r}: `*` (any run), `?` (one character) and
// escaped literals, matched as BuildKit does after turning them into a Go regular expression
// (neither wildcard crosses a newline; no bracket expressions).
#pragma once

#include <string>
#include <string_view>

namespace mkimg::parser {

/// Which match to prefer: the shortest (`#`, `%`) or the longest (`##`, `%%`, `/`).
enum class PatternGreed { kShortest, kLongest };

/// Whether ${V/p/r} replaces the first match or all of them (`//`).
enum class ReplaceCount { kFirst, kAll };

/// `value` without the prefix `pattern` matches. Throws mkimg::Error for a bad escape.
std::string trim_pattern_prefix(std::string_view pattern, std::string_view value,
                                PatternGreed greed);

/// `value` without the suffix `pattern` matches.
std::string trim_pattern_suffix(std::string_view pattern, std::string_view value,
                                PatternGreed greed);

/// `value` with matches of `pattern` replaced (Go regexp ReplaceAllString semantics, including
/// `$0`/`$$` in the replacement).
std::string replace_pattern(std::string_view pattern, std::string_view value,
                            std::string_view replacement, ReplaceCount count);

}  // namespace mkimg::parser
