// `mkimg parse [--dump] [-f FILE | FILE]`: read a Dockerfile and print what the parser made of
// it. --dump prints BuildKit's parse-tree dump (the line layer, accepting any keyword and flag,
// as BuildKit's parser tests do); without it the file is fully typed (flags checked, stages
// grouped) and printed one instruction a line (parser/describe.h). Errors are located:
// "Dockerfile:12:5: message" and the offending line; the command exits 1.
#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <iostream>
#include <string>

#include "cli/cli.h"
#include "common/error.h"
#include "common/fd.h"
#include "parser/describe.h"
#include "parser/parse.h"
#include "parser/syntax_tree.h"

namespace mkimg::cli {

namespace {

/// Options of `mkimg parse`.
struct ParseOptions {
  std::string file_flag;
  std::string file_arg;
  bool dump = false;
};

void run_parse(const ParseOptions& options) {
  if (!options.file_flag.empty() && !options.file_arg.empty()) {
    throw Error(describe("parse", options.file_arg,
                         "give the Dockerfile either with -f or as an argument"));
  }
  std::string path = !options.file_flag.empty() ? options.file_flag : options.file_arg;
  if (path.empty()) path = "Dockerfile";
  const std::string text = read_dockerfile_text(path);
  if (options.dump) {
    std::cout << parser::dump(parser::parse_syntax(text, path));
  } else {
    std::cout << parser::describe(parser::parse(text, path));
  }
  std::cout.flush();
}

}  // namespace

void add_parse_commands(CLI::App& app, GlobalOptions& /*options*/) {
  auto parse_options = std::make_shared<ParseOptions>();
  CLI::App* cmd = app.add_subcommand("parse", "Parse a Dockerfile and print its instructions");
  cmd->add_flag("--dump", parse_options->dump, "Print BuildKit's parse-tree dump");
  cmd->add_option("-f,--file", parse_options->file_flag, "The Dockerfile (default: ./Dockerfile)");
  cmd->add_option("FILE", parse_options->file_arg, "The Dockerfile");
  cmd->callback([parse_options] { run_parse(*parse_options); });
}

}  // namespace mkimg::cli
