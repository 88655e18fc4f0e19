#include "parser/dockerignore.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "common/error.h"
#include "parser/ignore_program.h"
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

/// "<source>:<line>: " in front of an error of that line.
std::string located(std::string_view source, std::size_t line) {
  return std::string(source) + ":" + std::to_string(line) + ": ";
}

/// The cleaned form of one .dockerignore line, or nullopt for comments and blanks.
std::optional<IgnorePattern> read_line(std::string_view line) {
  if (!line.empty() && line[0] == '#') return std::nullopt;
  std::string_view text = trim_space(line);
  if (text.empty()) return std::nullopt;
  if (text.size() > kMaxIgnorePatternBytes) {
    throw Error("a pattern of " + std::to_string(text.size()) + " bytes: longer than the " +
                std::to_string(kMaxIgnorePatternBytes) + " a pattern may have");
  }
  IgnorePattern p;
  if (text[0] == '!') {
    p.kind = PatternKind::kInclude;
    text = trim_space(text.substr(1));
    if (text.empty()) throw Error("illegal exclusion pattern: \"!\"");
  }
  std::string cleaned = clean_path(text);
  if (cleaned.size() > 1 && cleaned[0] == '/') cleaned.erase(0, 1);
  p.pattern = std::move(cleaned);
  return p;
}

}  // namespace

/// A segment of an exception (`!pattern`), for must_walk_excluded_directory().
struct IncludeSegment {
  bool any_depth = false;              ///< holds "**": could match at any depth
  std::optional<IgnoreProgram> match;  ///< nullopt: malformed alone (`error` says why)
  std::string error;
};

struct CompiledIgnore {
  struct General {
    IgnoreProgram program;
    std::size_t index;  ///< in Dockerignore::patterns
  };
  std::vector<General> general;  ///< the patterns with a wildcard, in file order, each once
  std::unordered_map<std::u32string, std::size_t> literal;  ///< code points -> last index
  std::vector<PatternKind> kinds;                           ///< by index
  std::vector<std::vector<IncludeSegment>> includes;        ///< exceptions' segments
};

namespace {

/// The segments of an exception; `location` goes in front of a segment's error.
std::vector<IncludeSegment> include_segments(const IgnorePattern& p, const std::string& location) {
  std::vector<IncludeSegment> out;
  for (const std::string& segment : split_slash(p.pattern)) {
    IncludeSegment s;
    s.any_depth = segment.find("**") != std::string::npos;
    try {
      if (!s.any_depth) s.match.emplace(segment);
    } catch (const Error& e) {
      s.error = location + e.what();
    }
    out.push_back(std::move(s));
  }
  return out;
}

/// Adds the pattern `p`, compiled as `program`, the `index`th of its file.
void add_pattern(CompiledIgnore& c, const IgnorePattern& p, IgnoreProgram program,
                 std::size_t index, const std::string& location) {
  c.kinds.push_back(p.kind);
  if (p.kind == PatternKind::kInclude) c.includes.push_back(include_segments(p, location));
  if (program.literal()) {
    c.literal.insert_or_assign(program.literal_text(), index);
  } else {
    c.general.push_back({std::move(program), index});
  }
}

/// Drops every wildcard pattern a later line repeats: the later one decides wherever both
/// match.
void drop_repeated(CompiledIgnore& c, const std::vector<IgnorePattern>& patterns) {
  std::unordered_set<std::string_view> seen;
  std::vector<bool> keep(c.general.size());
  for (std::size_t i = c.general.size(); i-- > 0;) {
    keep[i] = seen.insert(patterns[c.general[i].index].pattern).second;
  }
  std::size_t kept = 0;
  for (std::size_t i = 0; i < c.general.size(); ++i) {
    if (!keep[i]) continue;
    if (kept != i) c.general[kept] = std::move(c.general[i]);
    ++kept;
  }
  c.general.erase(c.general.begin() + static_cast<std::ptrdiff_t>(kept), c.general.end());
}

/// The compiled form of a Dockerignore made by hand (not by parse_dockerignore()).
CompiledIgnore compile_patterns(const std::vector<IgnorePattern>& patterns) {
  CompiledIgnore c;
  for (std::size_t i = 0; i < patterns.size(); ++i) {
    add_pattern(c, patterns[i], IgnoreProgram(patterns[i].pattern), i, "");
  }
  drop_repeated(c, patterns);
  return c;
}

/// A path to test and its parent directories: the path cleaned, its code points, and where
/// each candidate ends (the path itself first).
struct Candidates {
  std::string path;
  std::u32string runes;
  std::vector<std::pair<std::size_t, std::size_t>> ends;  ///< bytes, code points

  explicit Candidates(std::string_view relative_path) : path(clean_path(relative_path)) {
    while (path.size() > 1 && path[0] == '/') path.erase(0, 1);
    ends.emplace_back(path.size(), 0);
    for (std::size_t pos = 0; pos < path.size();) {
      const Rune r = decode_rune(path, pos);
      if (r.value == '/') ends.emplace_back(pos, runes.size());
      runes.push_back(r.value);
      pos += r.width;
    }
    ends[0].second = runes.size();
  }
};

/// The index of the last literal pattern matching a candidate, or -1.
std::ptrdiff_t last_literal(const CompiledIgnore& c, const Candidates& cand) {
  std::ptrdiff_t best = -1;
  if (c.literal.empty()) return best;
  for (const auto& [bytes, runes] : cand.ends) {
    auto it = c.literal.find(cand.runes.substr(0, runes));
    if (it != c.literal.end()) best = std::max(best, static_cast<std::ptrdiff_t>(it->second));
  }
  return best;
}

}  // namespace

Dockerignore parse_dockerignore(std::string_view text, std::string_view source) {
  Dockerignore ignore;
  CompiledIgnore c;
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  std::size_t start = 0;
  for (std::size_t number = 1; start < text.size(); ++number) {
    auto nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(start, nl - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    start = nl + 1;
    try {
      auto p = read_line(line);
      if (!p) continue;
      if (ignore.patterns.size() == kMaxIgnorePatterns) {
        throw Error("more than " + std::to_string(kMaxIgnorePatterns) + " patterns");
      }
      IgnoreProgram program(p->pattern);  // validated now, as moby does
      std::string location = p->kind == PatternKind::kInclude ? located(source, number) : "";
      add_pattern(c, *p, std::move(program), ignore.patterns.size(), location);
      ignore.patterns.push_back(std::move(*p));
    } catch (const Error& e) {
      throw Error(located(source, number) + e.what());
    }
  }
  drop_repeated(c, ignore.patterns);
  ignore.compiled = std::make_shared<const CompiledIgnore>(std::move(c));
  return ignore;
}

bool ignored(const Dockerignore& ignore, std::string_view relative_path) {
  if (ignore.patterns.empty()) return false;
  std::optional<CompiledIgnore> local;
  if (!ignore.compiled) local.emplace(compile_patterns(ignore.patterns));
  const CompiledIgnore& c = ignore.compiled ? *ignore.compiled : *local;
  const Candidates cand(relative_path);
  // The last pattern that matches the path or a parent decides (moby's loop comes to the
  // same): the wildcard patterns after the last literal one that matches, from the end.
  const std::ptrdiff_t literal = last_literal(c, cand);
  std::vector<std::uint8_t> scratch;
  for (auto it = c.general.rbegin(); it != c.general.rend(); ++it) {
    if (static_cast<std::ptrdiff_t>(it->index) < literal) break;
    for (const auto& [bytes, runes] : cand.ends) {
      if (it->program.matches(std::string_view(cand.path).substr(0, bytes),
                              std::u32string_view(cand.runes).substr(0, runes), scratch)) {
        return c.kinds[it->index] == PatternKind::kExclude;
      }
    }
  }
  return literal >= 0 && c.kinds[static_cast<std::size_t>(literal)] == PatternKind::kExclude;
}

bool must_walk_excluded_directory(const Dockerignore& ignore, std::string_view relative_dir) {
  std::optional<CompiledIgnore> local;
  if (!ignore.compiled) local.emplace(compile_patterns(ignore.patterns));
  const CompiledIgnore& c = ignore.compiled ? *ignore.compiled : *local;
  std::string dir = clean_path(relative_dir);
  while (dir.size() > 1 && dir[0] == '/') dir.erase(0, 1);
  const std::vector<std::string> dirs = split_slash(dir);
  std::vector<std::u32string> dir_runes;
  for (const auto& d : dirs) dir_runes.push_back(runes_of(d));
  std::vector<std::uint8_t> scratch;
  for (const std::vector<IncludeSegment>& segments : c.includes) {
    bool possible = true;
    for (std::size_t i = 0; i < dirs.size() && possible; ++i) {
      if (i >= segments.size()) break;   // the pattern matches this dir or a parent
      if (segments[i].any_depth) break;  // could match any depth
      if (!segments[i].match) throw Error(segments[i].error);
      possible = segments[i].match->matches(dirs[i], dir_runes[i], scratch);
    }
    if (possible) return true;
  }
  return false;
}

}  // namespace mkimg::parser
