// Finding the here-documents an instruction line opens (`<<EOF`, `<<-EOF`, `<<"EOF"`, `3<<EOF`,
// several on one line), as BuildKit does: lex the line into words (quotes and escapes kept),
// and take each word that is a heredoc opener.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "parser/dockerfile.h"

namespace mkimg::parser {

/// The heredoc a single word opens (`<<EOF`, `2<<-"EOF"`), without content, or nullopt when
/// the word is not a heredoc opener. Throws mkimg::Error for an opener that cannot be lexed.
std::optional<Heredoc> heredoc_from_word(std::string_view word);

/// Every heredoc opened on `line`, in order (empty when the line cannot be lexed).
std::vector<Heredoc> heredocs_from_line(std::string_view line);

/// Removes the leading tabs of every line (`<<-`).
std::string strip_leading_tabs(std::string_view content);

}  // namespace mkimg::parser
