// BuildKit's shell lexer (frontend/dockerfile/shell): quote removal, escapes, `$VAR` and
// `${VAR...}` substitution, and splitting into words, with the modes the parser needs
// (raw quotes and escapes for heredoc detection, literal quotes for heredoc bodies).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "parser/expand.h"

namespace mkimg::parser {

/// How the lexer treats quotes, escapes and unset variables. The defaults are the ones used
/// for expanding instruction arguments.
struct LexOptions {
  bool raw_quotes = false;           ///< keep quote characters in the output
  bool raw_escapes = false;          ///< keep escape characters in the output
  bool skip_process_quotes = false;  ///< quotes are ordinary characters
  bool skip_unset_env = false;       ///< leave `$UNSET` as written
};

/// The lexer's output: the whole processed text, and the same split into words.
struct LexResult {
  std::string word;
  std::vector<std::string> words;
};

/// Runs the lexer over `text`. Throws mkimg::Error "failed to process \"text\": cause".
LexResult shell_lex(std::string_view text, const Environment& env, char escape,
                    const LexOptions& options);

}  // namespace mkimg::parser
