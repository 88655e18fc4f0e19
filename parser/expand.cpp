#include "parser/expand.h"

#include "parser/shell_lexer.h"

namespace mkimg::parser {

void set_variable(Environment& env, std::string_view name, std::string_view value) {
  for (auto& [k, v] : env.variables) {
    if (k == name) {
      v = value;
      return;
    }
  }
  env.variables.emplace_back(std::string(name), std::string(value));
}

std::optional<std::string> find_variable(const Environment& env, std::string_view name) {
  for (const auto& [k, v] : env.variables) {
    if (k == name) return v;
  }
  return std::nullopt;
}

std::string expand_word(std::string_view word, const Environment& env, char escape) {
  return shell_lex(word, env, escape, LexOptions{}).word;
}

std::vector<std::string> expand_words(std::string_view text, const Environment& env, char escape) {
  return shell_lex(text, env, escape, LexOptions{}).words;
}

std::string expand_heredoc(std::string_view content, const Environment& env, char escape) {
  LexOptions options;
  options.skip_process_quotes = true;
  return shell_lex(content, env, escape, options).word;
}

}  // namespace mkimg::parser
