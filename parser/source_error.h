// Located Dockerfile errors: "Dockerfile:12:5: message" and the offending source line.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "parser/dockerfile.h"

namespace mkimg::parser {

/// The Error for `message` at `where` in a file whose lines are `lines` (without newlines):
/// "<file_name>:<line>:<column>: <message>\n<the line>" (the line is left out when unknown).
Error source_error(std::string_view file_name, const std::vector<std::string>& lines,
                   Location where, std::string_view message);

/// The 1-based column of the first non-blank character of line `line` (1 when unknown).
int first_column(const std::vector<std::string>& lines, int line);

/// The column where `needle` first appears on line `line`, or
/// `fallback` when it does not appear there.
int column_of(const std::vector<std::string>& lines, int line, std::string_view needle,
              int fallback);

}  // namespace mkimg::parser
