#include "parser/dockerignore.h"

#include <optional>

#include "common/error.h"
#include "parser/unicode.h"

namespace mkimg::parser {

namespace {

/// Go's filepath.Clean for '/'-separated paths.
std::string clean_path(std::string_view path) {
  if (path.empty()) return ".";
  const bool rooted = path[0] == '/';
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (start <= path.size()) {
    auto slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    const std::string_view part = path.substr(start, slash - start);
    if (part == "..") {
      if (!parts.empty() && parts.back() != "..") {
        parts.pop_back();
      } else if (!rooted) {
        parts.push_back(part);
      }
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    start = slash + 1;
  }
  std::string out = rooted ? "/" : "";
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i) out += '/';
    out += parts[i];
  }
  return out.empty() ? "." : out;
}

std::vector<std::string> split_slash(std::string_view s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const auto slash = s.find('/', start);
    out.emplace_back(s.substr(start, slash == std::string_view::npos ? s.npos : slash - start));
    if (slash == std::string_view::npos) return out;
    start = slash + 1;
  }
}

/// A piece of a compiled pattern (moby's regexp translation, as a matcher).
struct Piece {
  enum class Kind { kLiteral, kAnySegmentRun, kAnySegmentChar, kAnyDirs, kAnyRest, kSet } kind;
  char32_t rune = 0;
  bool negated = false;
  std::vector<std::pair<char32_t, char32_t>> ranges;
};

std::vector<char32_t> runes_of(std::string_view s) {
  std::vector<char32_t> out;
  for (std::size_t pos = 0; pos < s.size();) {
    const Rune r = decode_rune(s, pos);
    out.push_back(r.value);
    pos += r.width;
  }
  return out;
}

[[noreturn]] void bad_pattern(std::string_view pattern) {
  throw Error(describe("parse .dockerignore pattern", pattern, "syntax error in pattern"));
}

/// Reads `[...]` starting after the '['; returns the index after ']'.
std::size_t read_set(const std::vector<char32_t>& p, std::size_t i, Piece& set,
                     std::string_view pattern) {
  set.kind = Piece::Kind::kSet;
  if (i < p.size() && p[i] == '^') set.negated = true, ++i;
  bool first = true;
  for (; i < p.size(); first = false) {
    if (p[i] == ']' && !first) return i + 1;
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
    set.ranges.emplace_back(lo, hi);
  }
  bad_pattern(pattern);
}

std::vector<Piece> compile(std::string_view pattern) {
  const std::vector<char32_t> p = runes_of(pattern);
  std::vector<Piece> out;
  for (std::size_t i = 0; i < p.size();) {
    const char32_t ch = p[i++];
    if (ch == '*' && i < p.size() && p[i] == '*') {
      ++i;
      if (i < p.size() && p[i] == '/') ++i;
      out.push_back({i == p.size() ? Piece::Kind::kAnyRest : Piece::Kind::kAnyDirs});
    } else if (ch == '*') {
      out.push_back({Piece::Kind::kAnySegmentRun});
    } else if (ch == '?') {
      out.push_back({Piece::Kind::kAnySegmentChar});
    } else if (ch == '\\') {
      out.push_back({Piece::Kind::kLiteral, i < p.size() ? p[i++] : U'\\'});
    } else if (ch == '[') {
      Piece set{Piece::Kind::kSet};
      i = read_set(p, i, set, pattern);
      out.push_back(std::move(set));
    } else {
      out.push_back({Piece::Kind::kLiteral, ch});
    }
  }
  return out;
}

bool in_set(const Piece& set, char32_t c) {
  bool hit = false;
  for (const auto& [lo, hi] : set.ranges) hit = hit || (c >= lo && c <= hi);
  return hit != set.negated;
}

/// Whether the whole of `s` matches (one pass per piece over the reachable positions).
bool matches(const std::vector<Piece>& pieces, const std::vector<char32_t>& s) {
  const std::size_t n = s.size();
  std::vector<bool> cur(n + 1, false), next(n + 1, false);
  cur[0] = true;
  for (const Piece& piece : pieces) {
    std::fill(next.begin(), next.end(), false);
    for (std::size_t pos = 0; pos <= n; ++pos) {
      if (!cur[pos]) continue;
      switch (piece.kind) {
        case Piece::Kind::kLiteral:
          if (pos < n && s[pos] == piece.rune) next[pos + 1] = true;
          break;
        case Piece::Kind::kAnySegmentChar:
          if (pos < n && s[pos] != '/') next[pos + 1] = true;
          break;
        case Piece::Kind::kSet:
          if (pos < n && in_set(piece, s[pos])) next[pos + 1] = true;
          break;
        case Piece::Kind::kAnySegmentRun:
          for (std::size_t k = pos; k <= n && !next[k]; ++k) {
            next[k] = true;
            if (k < n && s[k] == '/') break;
          }
          break;
        case Piece::Kind::kAnyDirs:  // (.*/)?
          next[pos] = true;
          for (std::size_t k = pos; k < n && s[k] != '\n'; ++k) {
            if (s[k] == '/') next[k + 1] = true;
          }
          break;
        case Piece::Kind::kAnyRest:  // .*
          for (std::size_t k = pos; k <= n; ++k) {
            next[k] = true;
            if (k < n && s[k] == '\n') break;
          }
          break;
      }
    }
    std::swap(cur, next);
  }
  return cur[n];
}

bool pattern_matches(const IgnorePattern& pattern, std::string_view path) {
  const std::string& p = pattern.pattern;
  // moby quirk kept on purpose: a leading "**" followed by no other wildcard is a plain
  // suffix test ("**/foo" matches "xfoo" too).
  if (p.rfind("**", 0) == 0 && p.find_first_of("*?[]\\", 2) == std::string::npos) {
    std::string_view suffix = std::string_view(p).substr(2);
    if (!suffix.empty() && suffix[0] == '/') suffix.remove_prefix(1);
    return path.size() >= suffix.size() && path.substr(path.size() - suffix.size()) == suffix;
  }
  return matches(compile(p), runes_of(path));
}

/// The cleaned form of one .dockerignore line, or nullopt for comments and blanks.
std::optional<IgnorePattern> read_line(std::string_view line) {
  if (!line.empty() && line[0] == '#') return std::nullopt;
  std::string_view text = trim_space(line);
  if (text.empty()) return std::nullopt;
  IgnorePattern p;
  if (text[0] == '!') {
    p.kind = PatternKind::kInclude;
    text = trim_space(text.substr(1));
    if (text.empty()) throw Error("parse .dockerignore: illegal exclusion pattern: \"!\"");
  }
  std::string cleaned = clean_path(text);
  if (cleaned.size() > 1 && cleaned[0] == '/') cleaned.erase(0, 1);
  p.pattern = cleaned;
  p.segments = split_slash(cleaned);
  compile(p.pattern);  // validate now, as moby does
  return p;
}

}  // namespace

Dockerignore parse_dockerignore(std::string_view text) {
  Dockerignore ignore;
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  std::size_t start = 0;
  while (start < text.size()) {
    auto nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(start, nl - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (auto p = read_line(line)) ignore.patterns.push_back(std::move(*p));
    start = nl + 1;
  }
  return ignore;
}

bool ignored(const Dockerignore& ignore, std::string_view relative_path) {
  std::string file = clean_path(relative_path);
  while (file.size() > 1 && file[0] == '/') file.erase(0, 1);
  const auto slash = file.rfind('/');
  const std::string parent = slash == std::string::npos ? "." : file.substr(0, slash);
  const std::vector<std::string> parent_dirs = split_slash(parent);
  bool matched = false;
  for (const IgnorePattern& pattern : ignore.patterns) {
    if ((pattern.kind == PatternKind::kInclude) != matched) continue;
    bool match = pattern_matches(pattern, file);
    if (!match && parent != ".") {
      std::string prefix;
      for (std::size_t i = 0; i < parent_dirs.size() && !match; ++i) {
        prefix += (i ? "/" : "") + parent_dirs[i];
        match = pattern_matches(pattern, prefix);
      }
    }
    if (match) matched = pattern.kind == PatternKind::kExclude;
  }
  return matched;
}

bool must_walk_excluded_directory(const Dockerignore& ignore, std::string_view relative_dir) {
  std::string dir = clean_path(relative_dir);
  while (dir.size() > 1 && dir[0] == '/') dir.erase(0, 1);
  const std::vector<std::string> dirs = split_slash(dir);
  for (const IgnorePattern& pattern : ignore.patterns) {
    if (pattern.kind != PatternKind::kInclude) continue;
    bool possible = true;
    for (std::size_t i = 0; i < dirs.size() && possible; ++i) {
      if (i >= pattern.segments.size()) break;  // the pattern matches this dir or a parent
      if (pattern.segments[i].find("**") != std::string::npos) break;  // could match any depth
      IgnorePattern segment{pattern.segments[i], PatternKind::kInclude, {}};
      possible = pattern_matches(segment, dirs[i]);
    }
    if (possible) return true;
  }
  return false;
}

}  // namespace mkimg::parser
