#include "parser/ignore_program.h"

#include <algorithm>

#include "common/error.h"
#include "parser/unicode.h"

namespace mkimg::parser {

namespace {

[[noreturn]] void bad_pattern(std::string_view pattern) {
  throw Error(describe("parse pattern", pattern, "syntax error in pattern"));
}

}  // namespace

std::u32string runes_of(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  for (std::size_t pos = 0; pos < s.size();) {
    const Rune r = decode_rune(s, pos);
    out.push_back(r.value);
    pos += r.width;
  }
  return out;
}

/// Reads `[...]` starting after the '['; returns the index after ']'.
std::size_t IgnoreProgram::read_set(const std::u32string& p, std::size_t i, Piece& set,
                                    std::string_view pattern) {
  set.kind = Piece::Kind::kSet;
  set.value = static_cast<char32_t>(ranges_.size());
  if (i < p.size() && p[i] == '^') set.negated = true, ++i;
  bool first = true;
  for (; i < p.size(); first = false) {
    if (p[i] == ']' && !first) {
      set.count = static_cast<std::uint16_t>(ranges_.size() - set.value);
      return i + 1;
    }
    char32_t lo = p[i++];
    if (lo == '\\') {
      if (i >= p.size()) bad_pattern(pattern);
      lo = p[i++];
    }
    char32_t hi = lo;
    if (i + 1 < p.size() && p[i] == '-' && p[i + 1] != ']') {
      hi = p[i + 1];
      i += 2;
      if (hi == '\\') {
        if (i >= p.size()) bad_pattern(pattern);
        hi = p[i++];
      }
      if (hi < lo) bad_pattern(pattern);
    }
    ranges_.emplace_back(lo, hi);
  }
  bad_pattern(pattern);
}

IgnoreProgram::IgnoreProgram(std::string_view pattern) {
  const std::u32string p = runes_of(pattern);
  using Kind = Piece::Kind;
  pieces_.reserve(p.size());
  for (std::size_t i = 0; i < p.size();) {
    const char32_t ch = p[i++];
    if (ch == '*' && i < p.size() && p[i] == '*') {
      ++i;
      if (i < p.size() && p[i] == '/') ++i;
      pieces_.push_back({0, 0, i == p.size() ? Kind::kAnyRest : Kind::kAnyDirs});
    } else if (ch == '*') {
      pieces_.push_back({0, 0, Kind::kAnySegmentRun});
    } else if (ch == '?') {
      pieces_.push_back({0, 0, Kind::kAnySegmentChar});
    } else if (ch == '\\') {
      pieces_.push_back({i < p.size() ? p[i++] : U'\\', 0, Kind::kLiteral});
    } else if (ch == '[') {
      Piece set;
      i = read_set(p, i, set, pattern);
      pieces_.push_back(set);
    } else {
      pieces_.push_back({ch, 0, Kind::kLiteral});
    }
  }
  for (const Piece& piece : pieces_) {
    const bool star = piece.kind == Kind::kAnySegmentRun || piece.kind == Kind::kAnyDirs ||
                      piece.kind == Kind::kAnyRest;
    bounded_ = bounded_ && !star;
    if (!star) ++min_runes_;
  }
  auto literal = [](const Piece& piece) { return piece.kind == Kind::kLiteral; };
  literal_prefix_ = static_cast<std::size_t>(
      std::find_if_not(pieces_.begin(), pieces_.end(), literal) - pieces_.begin());
  if (literal_prefix_ < pieces_.size()) {
    literal_suffix_ = static_cast<std::size_t>(
        std::find_if_not(pieces_.rbegin(), pieces_.rend(), literal) - pieces_.rbegin());
  }
  // moby quirk kept on purpose: a leading "**" followed by no other wildcard is a plain
  // suffix test ("**/foo" matches "xfoo" too).
  if (pattern.starts_with("**") && pattern.find_first_of("*?[]\\", 2) == std::string::npos) {
    suffix_test_ = true;
    suffix_ = pattern.substr(2);
    if (!suffix_.empty() && suffix_[0] == '/') suffix_.erase(0, 1);
  }
}

std::u32string IgnoreProgram::literal_text() const {
  std::u32string out;
  for (const Piece& piece : pieces_) out.push_back(piece.value);
  return out;
}

bool IgnoreProgram::in_set(const Piece& set, char32_t c) const {
  bool hit = false;
  for (std::size_t i = set.value; i < set.value + set.count; ++i) {
    hit = hit || (c >= ranges_[i].first && c <= ranges_[i].second);
  }
  return hit != set.negated;
}

bool IgnoreProgram::matches(std::string_view path, std::u32string_view runes,
                            std::vector<std::uint8_t>& scratch) const {
  if (suffix_test_) return path.ends_with(suffix_);
  const std::size_t n = runes.size();
  if (n < min_runes_ || (bounded_ && n != min_runes_)) return false;
  for (std::size_t i = 0; i < literal_prefix_; ++i) {
    if (runes[i] != pieces_[i].value) return false;
  }
  if (literal_prefix_ == pieces_.size()) return true;
  for (std::size_t i = 1; i <= literal_suffix_; ++i) {
    if (runes[n - i] != pieces_[pieces_.size() - i].value) return false;
  }
  return run(literal_prefix_, pieces_.size() - literal_suffix_,
             runes.substr(literal_prefix_, n - literal_prefix_ - literal_suffix_), scratch);
}

/// Whether pieces [first, last) match the whole of `s`: one pass per piece over the reachable
/// positions, each pass linear (a run already scanned is not scanned again).
bool IgnoreProgram::run(std::size_t first, std::size_t last, std::u32string_view s,
                        std::vector<std::uint8_t>& scratch) const {
  const std::size_t n = s.size();
  scratch.assign(2 * (n + 1), 0);
  std::uint8_t* cur = scratch.data();
  std::uint8_t* next = cur + n + 1;
  cur[0] = 1;
  for (std::size_t i = first; i < last; ++i) {
    const Piece& piece = pieces_[i];
    std::fill(next, next + n + 1, 0);
    std::size_t scanned = 0;  // kAnyDirs, kAnyRest: where the last scan stopped
    bool any = false;
    for (std::size_t pos = 0; pos <= n; ++pos) {
      if (!cur[pos]) continue;
      any = true;
      switch (piece.kind) {
        case Piece::Kind::kLiteral:
          if (pos < n && s[pos] == piece.value) next[pos + 1] = 1;
          break;
        case Piece::Kind::kAnySegmentChar:
          if (pos < n && s[pos] != '/') next[pos + 1] = 1;
          break;
        case Piece::Kind::kSet:
          if (pos < n && in_set(piece, s[pos])) next[pos + 1] = 1;
          break;
        case Piece::Kind::kAnySegmentRun:  // [^/]*
          for (std::size_t k = pos; k <= n && !next[k]; ++k) {
            next[k] = 1;
            if (k < n && s[k] == '/') break;
          }
          break;
        case Piece::Kind::kAnyDirs: {  // (.*/)?
          next[pos] = 1;
          std::size_t k = std::max(pos, scanned);
          for (; k < n && s[k] != '\n'; ++k) {
            if (s[k] == '/') next[k + 1] = 1;
          }
          scanned = k;
          break;
        }
        case Piece::Kind::kAnyRest: {  // .*
          std::size_t k = std::max(pos, scanned);
          for (; k <= n; ++k) {
            next[k] = 1;
            if (k < n && s[k] == '\n') break;
          }
          scanned = k;
          break;
        }
      }
    }
    if (!any) return false;
    std::swap(cur, next);
  }
  return cur[n] != 0;
}

}  // namespace mkimg::parser
