// The line layer's per-line work, as BuildKit's parser does it: split a joined instruction line
// into keyword, `--flags` and the rest, then split the rest into arguments the way the keyword
// wants (JSON or words, name=value pairs, ONBUILD's inner instruction).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "parser/syntax_tree.h"

namespace mkimg::parser {

/// Builds the node for one joined line (no heredoc bodies yet). Throws mkimg::Error with a
/// plain message (the caller adds the location).
SyntaxNode node_from_line(std::string_view line, char escape);

/// BuildKit's parseWords: split on blanks, keeping quotes and escapes in the words.
std::vector<std::string> parse_words(std::string_view rest, char escape);

/// Splits on runs of [\t\v\f\r ] (Go's reWhitespace), at most `limit` pieces (0 = no limit).
std::vector<std::string> split_blanks(std::string_view text, std::size_t limit);

}  // namespace mkimg::parser
