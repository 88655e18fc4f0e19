// builder/: the build (stage graph, one file per kind of instruction, cache keys and index,
// RUN through an OCI runtime, progress) and the `mkimg` command.
//
// The command is thin: main.cpp parses global options with CLI11 and each cli_*.cpp adds one
// family of subcommands, whose callbacks call into the libraries and throw mkimg::Error on
// failure. main.cpp prints "mkimg: error: <message>" and exits 1 for any Error.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace mkimg::builder {

/// Options every subcommand sees, filled from the command line before callbacks run.
struct GlobalOptions {
  std::string root;  ///< --root; empty means MKIMG_ROOT, then the default.
  std::string log_level = "warn";
  int exit_code = 0;  ///< set by a callback that wants a non-zero, non-error exit.
  /// `mkimg run IMAGE COMMAND...`: the command, cut off the arguments before CLI11 sees them
  /// so that its own dashes (`ls -l`, `--rm`) are never taken for options of ours.
  std::vector<std::string> run_command;
};

/// Takes the arguments after `run [options] IMAGE` out of `args` (argv as strings) and returns
/// them; a leading "--" is dropped. Leaves `args` alone when the subcommand is not `run`.
std::vector<std::string> split_run_command(std::vector<std::string>& args);

/// The store root: --root, else $MKIMG_ROOT, else /var/lib/mkimg for root, else
/// $XDG_DATA_HOME/mkimg (~/.local/share/mkimg).
std::filesystem::path store_root(const GlobalOptions& options);

void add_parse_commands(CLI::App& app, GlobalOptions& options);     // cli_parse.cpp
void add_image_commands(CLI::App& app, GlobalOptions& options);     // cli_images.cpp
void add_registry_commands(CLI::App& app, GlobalOptions& options);  // cli_registry.cpp
void add_build_commands(CLI::App& app, GlobalOptions& options);     // cli_build.cpp

}  // namespace mkimg::builder
