#include "parser/line_parsers.h"

#include <algorithm>

#include "common/ascii.h"
#include "common/error.h"
#include "parser/json_array.h"
#include "parser/unicode.h"

namespace mkimg::parser {

namespace {

bool is_blank(char c) { return c == '\t' || c == '\v' || c == '\f' || c == '\r' || c == ' '; }
bool is_ascii_space(char c) { return is_blank(c) || c == '\n'; }

/// The keyword, the `--flags` (quotes and backslashes processed, a lone `--` ends them and is
/// dropped) and the rest of the line.
struct CommandParts {
  std::string keyword;
  std::vector<std::string> flags;
  std::string rest;
};

/// BuildKit's extractBuilderFlags: returns the text after the flags.
std::string_view extract_flags(std::string_view line, std::vector<std::string>& flags) {
  enum class Phase { kSpaces, kWord, kQuote } phase = Phase::kSpaces;
  std::string word;
  char quote = 0;
  bool blank_ok = false;
  for (std::size_t pos = 0; pos <= line.size(); ++pos) {
    const bool at_end = pos == line.size();
    const char ch = at_end ? 0 : line[pos];
    if (phase == Phase::kSpaces) {
      if (at_end) break;
      if (is_ascii_space(ch)) continue;
      if (ch != '-' || pos + 1 == line.size() || line[pos + 1] != '-') return line.substr(pos);
      phase = Phase::kWord;
    }
    if (at_end) {
      if (word != "--" && (blank_ok || !word.empty())) flags.push_back(word);
      break;
    }
    if (phase == Phase::kWord) {
      if (is_ascii_space(ch)) {
        phase = Phase::kSpaces;
        if (word == "--") return line.substr(pos);
        if (blank_ok || !word.empty()) flags.push_back(word);
        word.clear();
        blank_ok = false;
        continue;
      }
      if (ch == '\'' || ch == '"') {
        quote = ch, blank_ok = true, phase = Phase::kQuote;
        continue;
      }
      if (ch == '\\') {
        if (pos + 1 == line.size()) continue;
        ++pos;
      }
      word.push_back(line[pos]);
      continue;
    }
    if (ch == quote) {
      phase = Phase::kWord;
      continue;
    }
    if (ch == '\\') {
      if (pos + 1 == line.size()) {
        phase = Phase::kWord;
        continue;
      }
      ++pos;
    }
    word.push_back(line[pos]);
  }
  return {};
}

CommandParts split_command(std::string_view line) {
  CommandParts parts;
  const auto pieces = split_blanks(trim_space(line), 2);
  parts.keyword = pieces.empty() ? std::string() : pieces[0];
  if (pieces.size() == 2)
    parts.rest = std::string(trim_space(extract_flags(pieces[1], parts.flags)));
  return parts;
}

void set_json_or(SyntaxNode& node, const JsonArray& json) {
  if (json.status == JsonArrayStatus::kNotStrings) {
    throw Error("when using JSON array syntax, arrays must be comprised of strings only");
  }
  node.args = json.values;
  node.form = ArgumentForm::kJson;
}

/// RUN, CMD, ENTRYPOINT, SHELL: JSON, or the whole rest as one argument.
void parse_maybe_json(SyntaxNode& node, std::string_view rest) {
  if (rest.empty()) return;
  const JsonArray json = parse_json_array(rest);
  if (json.status != JsonArrayStatus::kNotJson) return set_json_or(node, json);
  node.args.emplace_back(rest);
}

/// ADD, COPY, VOLUME: JSON, or blank-separated words.
void parse_maybe_json_to_list(SyntaxNode& node, std::string_view rest) {
  const JsonArray json = parse_json_array(rest);
  if (json.status != JsonArrayStatus::kNotJson) return set_json_or(node, json);
  if (!rest.empty()) node.args = split_blanks(rest, 0);
}

/// ENV and LABEL: `name=value ...`, or the legacy `name value`; three args per pair
/// (name, value, "=" or "").
void parse_name_value(SyntaxNode& node, std::string_view rest, std::string_view keyword,
                      char escape) {
  const auto words = parse_words(rest, escape);
  if (words.empty()) return;
  if (words[0].find('=') == std::string::npos) {
    auto parts = split_blanks(rest, 2);
    if (parts.size() < 2) throw Error(std::string(keyword) + " must have two arguments");
    node.args = {parts[0], parts[1], ""};
    return;
  }
  for (const auto& word : words) {
    const auto eq = word.find('=');
    if (eq == std::string::npos) {
      throw Error("Syntax error - can't find = in \"" + word +
                  "\". Must be of the form: name=value");
    }
    node.args.insert(node.args.end(), {word.substr(0, eq), word.substr(eq + 1), "="});
  }
}

/// HEALTHCHECK: the type word, then like CMD.
void parse_health(SyntaxNode& node, std::string_view rest) {
  std::size_t sep = 0;
  while (sep < rest.size() && !is_ascii_space(rest[sep])) ++sep;
  std::size_t next = sep;
  while (next < rest.size() && is_ascii_space(rest[next])) ++next;
  if (sep == 0) return;
  SyntaxNode command;
  parse_maybe_json(command, rest.substr(next));
  node.args.emplace_back(rest.substr(0, sep));
  node.args.insert(node.args.end(), command.args.begin(), command.args.end());
  node.form = command.form;
}

void parse_arguments(SyntaxNode& node, std::string_view rest, char escape) {
  const std::string key = ascii_lower(node.keyword);
  if (key == "add" || key == "copy" || key == "volume") {
    parse_maybe_json_to_list(node, rest);
  } else if (key == "run" || key == "cmd" || key == "entrypoint" || key == "shell") {
    parse_maybe_json(node, rest);
  } else if (key == "env" || key == "label") {
    parse_name_value(node, rest, key == "env" ? "ENV" : "LABEL", escape);
  } else if (key == "arg") {
    node.args = parse_words(rest, escape);
  } else if (key == "expose" || key == "from") {
    if (!rest.empty()) node.args = split_blanks(rest, 0);
  } else if (key == "maintainer" || key == "stopsignal" || key == "user" || key == "workdir") {
    if (!rest.empty()) node.args.emplace_back(rest);
  } else if (key == "healthcheck") {
    parse_health(node, rest);
  } else if (key == "onbuild") {
    if (!rest.empty()) node.inner.push_back(node_from_line(rest, escape));
  } else {
    node.args.emplace_back();  // BuildKit keeps unknown keywords with one empty argument
  }
}

}  // namespace

std::vector<std::string> split_blanks(std::string_view text, std::size_t limit) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t pos = 0; pos < text.size(); ++pos) {
    if (!is_blank(text[pos]) || (limit != 0 && out.size() + 1 == limit)) continue;
    std::size_t end = pos;
    while (end < text.size() && is_blank(text[end])) ++end;
    out.emplace_back(text.substr(start, pos - start));
    start = end;
    pos = end - 1;
  }
  out.emplace_back(text.substr(start));
  return out;
}

std::vector<std::string> parse_words(std::string_view rest, char escape_char) {
  const char32_t escape = static_cast<unsigned char>(escape_char);
  enum class Phase { kSpaces, kWord, kQuote } phase = Phase::kSpaces;
  std::vector<std::string> words;
  std::string word;
  char32_t quote = 0;
  bool blank_ok = false;
  Rune r;
  for (std::size_t pos = 0; pos <= rest.size(); pos += r.width) {
    const bool at_end = pos == rest.size();
    if (!at_end) r = decode_rune(rest, pos);
    if (phase == Phase::kSpaces) {
      if (at_end) break;
      if (is_space(r.value)) continue;
      phase = Phase::kWord;
    }
    if (at_end) {
      if (blank_ok || !word.empty()) words.push_back(word);
      break;
    }
    if (phase == Phase::kWord) {
      if (is_space(r.value)) {
        phase = Phase::kSpaces;
        if (blank_ok || !word.empty()) words.push_back(word);
        word.clear();
        blank_ok = false;
        continue;
      }
      if (r.value == '\'' || r.value == '"')
        quote = r.value, blank_ok = true, phase = Phase::kQuote;
      if (r.value == escape) {
        if (pos + r.width == rest.size()) continue;
        append_rune(word, r.value);
        pos += r.width;
        r = decode_rune(rest, pos);
      }
      append_rune(word, r.value);
      continue;
    }
    if (r.value == quote) phase = Phase::kWord;
    if (r.value == escape && quote != '\'') {
      if (pos + r.width == rest.size()) {
        phase = Phase::kWord;
        continue;
      }
      pos += r.width;
      append_rune(word, r.value);
      r = decode_rune(rest, pos);
    }
    append_rune(word, r.value);
  }
  return words;
}

SyntaxNode node_from_line(std::string_view line, char escape) {
  CommandParts parts = split_command(line);
  SyntaxNode node;
  node.keyword = std::move(parts.keyword);
  node.flags = std::move(parts.flags);
  node.original = std::string(line);
  node.rest = parts.rest;
  parse_arguments(node, parts.rest, escape);
  return node;
}

}  // namespace mkimg::parser
