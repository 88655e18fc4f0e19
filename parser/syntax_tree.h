// The line layer of parser/: BuildKit's parse tree. Directives, comments, continuation lines,
// heredoc bodies, and the split of each instruction into keyword, flags and arguments.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "parser/dockerfile.h"

namespace mkimg::parser {

/// Which argument form a line used.
enum class ArgumentForm { kWords, kJson };

/// One instruction as the line layer sees it, before typing: any keyword, any flag.
struct SyntaxNode {
  std::string keyword;             ///< as written ("RUN", "copy", "FOO")
  std::vector<std::string> flags;  ///< "--from=x" with quotes and escapes processed; "--" dropped
  std::vector<std::string> args;   ///< arguments as split for this keyword (see dump())
  std::vector<SyntaxNode> inner;   ///< ONBUILD: the wrapped instruction
  ArgumentForm form = ArgumentForm::kWords;
  std::vector<Heredoc> heredocs;  ///< bodies as read (tabs not stripped yet)
  std::string original;           ///< the instruction's text, continuation lines joined
  std::string rest;               ///< the text after keyword and flags, trimmed
  Location location;              ///< the keyword's position
  int end_line = 0;               ///< last line (heredoc terminator included)
};

/// A parsed file: directives, and one node per instruction.
struct SyntaxTree {
  Directives directives;
  std::vector<SyntaxNode> nodes;
  std::vector<std::string> lines;  ///< the source lines, for error messages
};

/// Reads the line layer. Throws mkimg::Error "<file>:<line>:<column>: message\n<line>".
SyntaxTree parse_syntax(std::string_view text, std::string_view file_name = "Dockerfile");

/// Parses one line (an ONBUILD trigger) with the default escape character.
SyntaxNode parse_syntax_line(std::string_view line);

/// BuildKit's dump of the tree: one `(keyword ["flags"] "arg" ...)` line per instruction.
std::string dump(const SyntaxTree& tree);

/// The dump of one node, without the surrounding parentheses.
std::string dump(const SyntaxNode& node);

}  // namespace mkimg::parser
