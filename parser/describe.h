// Readable text for typed instructions: what `mkimg parse` prints without --dump, and what logs
// and cache explanations show. One line per instruction, every typed field as key=value.
#pragma once

#include <string>
#include <string_view>

#include "parser/dockerfile.h"

namespace mkimg::parser {

/// Go's strconv.Quote of `text` (the quoting of BuildKit's dump).
std::string go_quote(std::string_view text);

/// One instruction: `RUN shell="make" network=none mount=[type=cache target=/root/.cache]`.
std::string describe(const Instruction& instruction);

/// The whole file: directives, global ARGs, then each stage and its instructions with their
/// line:column.
std::string describe(const Dockerfile& dockerfile);

}  // namespace mkimg::parser
