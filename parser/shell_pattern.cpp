#include "parser/shell_pattern.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "common/error.h"
#include "parser/unicode.h"

namespace mkimg::parser {

namespace {

/// One element of a compiled pattern.
struct PatternToken {
  enum class Kind { kLiteral, kAnyOne, kAnyRun } kind = Kind::kLiteral;
  char32_t rune = 0;
};

/// The value split into runes, with each rune's byte offset (plus the end offset).
struct Runes {
  std::vector<char32_t> values;
  std::vector<std::size_t> offsets;
};

Runes to_runes(std::string_view text) {
  Runes r;
  for (std::size_t pos = 0; pos < text.size();) {
    const Rune rune = decode_rune(text, pos);
    r.values.push_back(rune.value);
    r.offsets.push_back(pos);
    pos += rune.width;
  }
  r.offsets.push_back(text.size());
  return r;
}

std::vector<PatternToken> compile(std::string_view pattern) {
  const Runes p = to_runes(pattern);
  std::vector<PatternToken> out;
  for (std::size_t i = 0; i < p.values.size(); ++i) {
    const char32_t c = p.values[i];
    if (c == '*') {
      out.push_back({PatternToken::Kind::kAnyRun, 0});
    } else if (c == '?') {
      out.push_back({PatternToken::Kind::kAnyOne, 0});
    } else if (c == '\\') {
      const bool has_next = i + 1 < p.values.size();
      if (has_next && (p.values[i + 1] == '}' || p.values[i + 1] == '/')) continue;
      if (!has_next ||
          (p.values[i + 1] != '*' && p.values[i + 1] != '?' && p.values[i + 1] != '\\')) {
        std::string bad;
        if (has_next) append_rune(bad, p.values[i + 1]);
        throw Error("invalid pattern (" + std::string(pattern) +
                    ") in substitution: invalid escape '\\" + bad + "'");
      }
      out.push_back({PatternToken::Kind::kLiteral, p.values[++i]});
    } else {
      out.push_back({PatternToken::Kind::kLiteral, c});
    }
  }
  return out;
}

/// For a match starting at rune `start`: which end positions are reachable. One pass per
/// token over the positions, so any pattern costs O(tokens x runes).
std::vector<bool> reachable_ends(const std::vector<PatternToken>& tokens,
                                 const std::vector<char32_t>& s, std::size_t start) {
  const std::size_t n = s.size();
  std::vector<bool> cur(n + 1, false), next(n + 1, false);
  cur[start] = true;
  for (const PatternToken& tok : tokens) {
    std::fill(next.begin(), next.end(), false);
    if (tok.kind == PatternToken::Kind::kAnyRun) {
      bool open = false;
      for (std::size_t p = 0; p <= n; ++p) {
        if (cur[p]) open = true;
        next[p] = open;
        if (p < n && s[p] == '\n') open = false;
      }
    } else {
      for (std::size_t p = 0; p < n; ++p) {
        if (!cur[p]) continue;
        const bool ok = tok.kind == PatternToken::Kind::kAnyOne ? s[p] != '\n' : s[p] == tok.rune;
        if (ok) next[p + 1] = true;
      }
    }
    std::swap(cur, next);
  }
  return cur;
}

/// The end (in runes) of the preferred match starting at rune `start`, if any.
std::optional<std::size_t> match_at(const std::vector<PatternToken>& tokens,
                                    const std::vector<char32_t>& s, std::size_t start,
                                    PatternGreed greed) {
  const std::vector<bool> ends = reachable_ends(tokens, s, start);
  if (greed == PatternGreed::kShortest) {
    for (std::size_t e = start; e < ends.size(); ++e) {
      if (ends[e]) return e;
    }
  } else {
    for (std::size_t e = ends.size(); e-- > start;) {
      if (ends[e]) return e;
    }
  }
  return std::nullopt;
}

/// Go regexp's Expand for a pattern without groups: $0 / ${0} is the match, $$ is '$'.
void append_replacement(std::string& out, std::string_view repl, std::string_view match) {
  for (std::size_t i = 0; i < repl.size(); ++i) {
    if (repl[i] != '$') {
      out.push_back(repl[i]);
      continue;
    }
    if (i + 1 < repl.size() && repl[i + 1] == '$') {
      out.push_back('$');
      ++i;
      continue;
    }
    std::size_t j = i + 1;
    const bool brace = j < repl.size() && repl[j] == '{';
    if (brace) ++j;
    std::size_t k = j;
    while (k < repl.size()) {
      const Rune r = decode_rune(repl, k);
      if (!is_letter(r.value) && !is_digit(r.value) && r.value != '_') break;
      k += r.width;
    }
    if (k == j || (brace && (k >= repl.size() || repl[k] != '}'))) {
      out.push_back('$');  // malformed: a literal '$'
      continue;
    }
    const std::string_view name = repl.substr(j, k - j);
    if (name.find_first_not_of('0') == std::string_view::npos) out.append(match);
    i = brace ? k : k - 1;
  }
}

}  // namespace

std::string trim_pattern_prefix(std::string_view pattern, std::string_view value,
                                PatternGreed greed) {
  const auto tokens = compile(pattern);
  const Runes s = to_runes(value);
  const auto end = match_at(tokens, s.values, 0, greed);
  if (!end) return std::string(value);
  return std::string(value.substr(s.offsets[*end]));
}

std::string trim_pattern_suffix(std::string_view pattern, std::string_view value,
                                PatternGreed greed) {
  // BuildKit reverses pattern and value and trims a prefix; so do we.
  auto tokens = compile(pattern);
  std::reverse(tokens.begin(), tokens.end());
  const Runes s = to_runes(value);
  std::vector<char32_t> reversed(s.values.rbegin(), s.values.rend());
  const auto len = match_at(tokens, reversed, 0, greed);
  if (!len) return std::string(value);
  return std::string(value.substr(0, s.offsets[s.values.size() - *len]));
}

std::string replace_pattern(std::string_view pattern, std::string_view value,
                            std::string_view replacement, ReplaceCount count) {
  const auto tokens = compile(pattern);
  const Runes s = to_runes(value);
  const std::size_t n = s.values.size();
  auto bytes = [&](std::size_t from, std::size_t to) {
    return value.substr(s.offsets[from], s.offsets[to] - s.offsets[from]);
  };
  std::string out;
  std::size_t last_end = 0;  // in runes
  for (std::size_t search = 0; search <= n;) {
    std::optional<std::size_t> a, b;
    for (std::size_t start = search; start <= n && !b; ++start) {
      b = match_at(tokens, s.values, start, PatternGreed::kLongest);
      if (b) a = start;
    }
    if (!b) break;
    out.append(bytes(last_end, *a));
    if (count == ReplaceCount::kFirst) {
      out.append(replacement);  // FindStringIndex + concatenation: no $ expansion
      last_end = *b;
      break;
    }
    if (*b > last_end || *a == 0) append_replacement(out, replacement, bytes(*a, *b));
    last_end = *b;
    search = (*b > search) ? *b : search + 1;
  }
  out.append(value.substr(s.offsets[last_end]));
  return out;
}

}  // namespace mkimg::parser
