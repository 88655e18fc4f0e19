// Dockerfile text -> Dockerfile (see dockerfile.h for the picture of parser/).
#pragma once

#include <string_view>

#include "parser/dockerfile.h"

namespace mkimg::parser {

/// Parses a whole Dockerfile into directives, global ARGs and stages. Throws mkimg::Error
/// "<file_name>:<line>:<column>: <message>\n<the offending source line>" on any error
/// (unknown instruction, bad or unknown flag, missing argument, unterminated heredoc, no FROM,
/// ...). Values stay unexpanded; see expand.h.
Dockerfile parse(std::string_view text, std::string_view file_name = "Dockerfile");

/// Parses one instruction written on one line (an ONBUILD trigger re-parsed in a child build),
/// with the default escape character. FROM, ONBUILD and MAINTAINER are accepted here; the
/// builder decides what a trigger may be. Throws mkimg::Error "ONBUILD:<line>:<column>: ..."
/// followed by the trigger line on error.
Instruction parse_instruction(std::string_view line);

}  // namespace mkimg::parser
