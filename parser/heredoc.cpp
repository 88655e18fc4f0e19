#include "parser/heredoc.h"

#include <algorithm>

#include "common/error.h"
#include "parser/shell_lexer.h"

namespace mkimg::parser {

namespace {

std::size_t count_quotes(std::string_view s) {
  return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\'') +
                                  std::count(s.begin(), s.end(), '"'));
}

}  // namespace

std::optional<Heredoc> heredoc_from_word(std::string_view word) {
  // ^(\d*)<<(-?)([^<]*)$
  std::size_t pos = 0;
  while (pos < word.size() && word[pos] >= '0' && word[pos] <= '9') ++pos;
  const std::string_view digits = word.substr(0, pos);
  if (word.substr(pos, 2) != "<<") return std::nullopt;
  pos += 2;
  Heredoc heredoc;
  if (pos < word.size() && word[pos] == '-') {
    heredoc.tabs = HeredocTabs::kStrip;
    ++pos;
  }
  const std::string_view rest = word.substr(pos);
  if (rest.empty() || rest.find('<') != std::string_view::npos) return std::nullopt;
  LexOptions options;
  options.skip_unset_env = true;
  const Environment none;
  const auto words = shell_lex(rest, none, '\\', options).words;
  if (words.size() != 1) return std::nullopt;
  options.raw_quotes = true;
  const auto raw = shell_lex(rest, none, '\\', options).words;
  if (raw.size() != words.size()) {
    throw Error("internal lexing of heredoc produced inconsistent results: " + std::string(rest));
  }
  heredoc.name = words[0];
  heredoc.expansion = count_quotes(words[0]) == count_quotes(raw[0]) ? HeredocExpansion::kExpand
                                                                     : HeredocExpansion::kLiteral;
  int fd = 0;
  for (char c : digits) fd = fd > 100000 ? fd : fd * 10 + (c - '0');
  heredoc.file_descriptor = fd;
  return heredoc;
}

std::vector<Heredoc> heredocs_from_line(std::string_view line) {
  LexOptions options;
  options.raw_quotes = true;
  options.raw_escapes = true;
  options.skip_unset_env = true;
  std::vector<std::string> words;
  try {
    words = shell_lex(line, Environment{}, '\\', options).words;
  } catch (const Error&) {
    return {};
  }
  std::vector<Heredoc> docs;
  for (const auto& word : words) {
    if (auto heredoc = heredoc_from_word(word)) docs.push_back(std::move(*heredoc));
  }
  return docs;
}

std::string strip_leading_tabs(std::string_view content) {
  std::string out;
  out.reserve(content.size());
  bool line_start = true;
  for (char c : content) {
    if (line_start && c == '\t') continue;
    line_start = c == '\n';
    out.push_back(c);
  }
  return out;
}

}  // namespace mkimg::parser
