// libFuzzer target for parser/: arbitrary bytes through the line layer and its dump, the typed
// layer, expansion of every instruction, word expansion and .dockerignore matching. Only
// mkimg::Error may escape the parser; anything else (or a crash, or a sanitizer report) is a bug.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

#include "common/error.h"
#include "parser/describe.h"
#include "parser/dockerignore.h"
#include "parser/expand.h"
#include "parser/parse.h"
#include "parser/syntax_tree.h"

namespace {

using namespace mkimg::parser;

Environment fuzz_env() {
  Environment env;
  set_variable(env, "PWD", "/home");
  set_variable(env, "EMPTY", "");
  set_variable(env, "A", "a b  c");
  return env;
}

void expand_all(const Dockerfile& d, const Environment& env) {
  for (const Stage& stage : d.stages) {
    for (const Instruction& instruction : stage.instructions) {
      try {
        (void)describe(expand(instruction, env, d.directives.escape));
      } catch (const mkimg::Error&) {
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  static const Environment env = fuzz_env();
  try {
    (void)dump(parse_syntax(text));
  } catch (const mkimg::Error&) {
  }
  try {
    const Dockerfile d = parse(text);
    (void)describe(d);
    expand_all(d, env);
  } catch (const mkimg::Error&) {
  }
  try {
    (void)expand_word(text, env);
    (void)expand_words(text, env, '`');
    (void)expand_heredoc(text, env);
  } catch (const mkimg::Error&) {
  }
  try {
    const Dockerignore ignore = parse_dockerignore(text);
    (void)ignored(ignore, "a/b/c.txt");
    (void)must_walk_excluded_directory(ignore, "a/b");
  } catch (const mkimg::Error&) {
  }
  return 0;
}
