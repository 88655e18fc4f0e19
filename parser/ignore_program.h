// One .dockerignore pattern compiled once (moby's regexp translation, as a matcher over code
// points), with the cheap checks that turn most paths away before the matcher runs: the
// length bounds and the literal head and tail. Internal to parser/ (dockerignore.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mkimg::parser {

/// `s` as code points (invalid UTF-8 as U+FFFD, one per byte, as Go decodes it).
std::u32string runes_of(std::string_view s);

/// A compiled pattern. Matching is O(pieces x length) at worst, and O(1) for most paths.
class IgnoreProgram {
 public:
  /// Compiles a cleaned pattern; throws mkimg::Error naming it when it is malformed.
  explicit IgnoreProgram(std::string_view pattern);

  /// Whether the whole path matches; `runes` is runes_of(`path`), `scratch` reused between
  /// calls of one thread.
  bool matches(std::string_view path, std::u32string_view runes,
               std::vector<std::uint8_t>& scratch) const;

  /// True when the pattern has no wildcard: it matches literal_text() and nothing else.
  bool literal() const { return !suffix_test_ && literal_prefix_ == pieces_.size(); }
  /// The code points a literal() pattern matches.
  std::u32string literal_text() const;

 private:
  struct Piece {
    enum class Kind : std::uint8_t {
      kLiteral,
      kAnySegmentRun,
      kAnySegmentChar,
      kAnyDirs,
      kAnyRest,
      kSet
    };
    char32_t value = 0;       ///< the rune of a literal; the first of ranges_ of a set
    std::uint16_t count = 0;  ///< a set's ranges
    Kind kind = Kind::kLiteral;
    bool negated = false;
  };

  std::size_t read_set(const std::u32string& p, std::size_t i, Piece& set,
                       std::string_view pattern);
  bool in_set(const Piece& set, char32_t c) const;
  bool run(std::size_t first, std::size_t last, std::u32string_view s,
           std::vector<std::uint8_t>& scratch) const;

  std::vector<Piece> pieces_;
  std::vector<std::pair<char32_t, char32_t>> ranges_;
  std::size_t min_runes_ = 0;       ///< pieces that take exactly one rune
  bool bounded_ = true;             ///< no `*` or `**`: a match has exactly min_runes_
  std::size_t literal_prefix_ = 0;  ///< leading literal pieces
  std::size_t literal_suffix_ = 0;  ///< trailing literal pieces (when not all are literal)
  bool suffix_test_ = false;        ///< moby's "**" + plain suffix quirk
  std::string suffix_;              ///< its suffix (bytes)
};

}  // namespace mkimg::parser
