// Word expansion exactly as BuildKit's shell lexer does it ($V, ${V}, ${V:-x}, ${V-x}, ${V:+x},
// ${V+x}, ${V:?msg}, ${V?msg}, ${V#p}, ${V##p}, ${V%p}, ${V%%p}, ${V/p/r}, ${V//p/r}, quotes and
// the escape character), and which arguments of which instruction are expanded.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "parser/dockerfile.h"

namespace mkimg::parser {

/// The variables in scope for expansion, in the order they were set. A name appears at most
/// once (set_variable replaces in place). A variable set to "" is set: `${V-x}` keeps "".
struct Environment {
  std::vector<std::pair<std::string, std::string>> variables;
};

/// Sets (or replaces) `name`.
void set_variable(Environment& env, std::string_view name, std::string_view value);

/// The value of `name`, or nullopt when it is not set. Names are case-sensitive.
std::optional<std::string> find_variable(const Environment& env, std::string_view name);

/// Expands one word: quotes removed, escapes applied, variables substituted; spaces kept.
/// Throws mkimg::Error for `${V:?msg}`, bad substitutions and unterminated quotes.
std::string expand_word(std::string_view word, const Environment& env, char escape = '\\');

/// Expands and splits into words on unquoted blanks (BuildKit's ProcessWords).
std::vector<std::string> expand_words(std::string_view text, const Environment& env,
                                      char escape = '\\');

/// Expands a heredoc body of COPY/ADD: variables only, quotes are kept as written.
std::string expand_heredoc(std::string_view content, const Environment& env, char escape = '\\');

/// Returns `instruction` with exactly the arguments BuildKit expands expanded:
/// FROM image and --platform; ENV and LABEL keys and values; ARG names and defaults; WORKDIR;
/// USER; EXPOSE; VOLUME; STOPSIGNAL; COPY/ADD sources, dest, --from, --chown, --chmod,
/// --exclude, --checksum and expandable heredoc bodies; RUN --mount values (re-typed).
/// RUN/CMD/ENTRYPOINT/SHELL/HEALTHCHECK commands, MAINTAINER and ONBUILD are left as written.
Instruction expand(const Instruction& instruction, const Environment& env, char escape = '\\');

}  // namespace mkimg::parser
