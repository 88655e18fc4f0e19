// cli/: the `mkimg` executable and nothing else (no other folder links it). A map:
//
//   main.cpp                global options (--root, --log-level, --max-layer-size), the
//                           subcommands, errors
//   cli.h                   what every command file shares (this file)
//   build_command.cpp       `mkimg build`: flags -> builder::BuildOptions, the build with its
//                           progress view, --verify-reproducible, --push; `mkimg verify` (a
//                           rebuild from an image's provenance)
//   run_command.cpp         `mkimg run`: layers unpacked, then runtime::run_image
//   image_commands.cpp      import, pull, save, load, images, inspect, history, tag, rmi, prune
//   diff_command.cpp        `mkimg diff` (snapshot/image_diff.h)
//   registry_commands.cpp   push, login, logout, and the registry flags of pull
//   cache_command.cpp       `mkimg cache prune`: the store's step cache and cache mounts, or a
//                           registry cache (cache/prune.h)
//   parse_command.cpp       `mkimg parse [--dump]`
//   system_commands.cpp     `mkimg setup-binfmt`: binfmt_misc mounted, QEMU's emulators
//                           registered for RUN of foreign platforms (runtime/emulation.h)
//   inputs.cpp              what commands read besides flags: a Dockerfile (file or stdin,
//                           64 MiB at most), $SOURCE_DATE_EPOCH (checked), run's --env-file
//                           and `-e NAME` values from the environment
//   progress.h              the build's events rendered: plain, a live tty view, quiet
//   log_sink.h              spdlog to stderr ("mkimg: [debug] ..."), above the live view
//
// The command is thin: main.cpp parses global options with CLI11 and each *_command(s).cpp
// adds one family of subcommands, whose callbacks call into the libraries and throw
// mkimg::Error on failure. main.cpp prints "mkimg: error: <message>" and exits 1 for any Error
// (2 for a usage error, with the command's usage after it).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "oci/store.h"
#include "registry/options.h"

namespace CLI {
class App;
}

namespace mkimg::cli {

/// Options every subcommand sees, filled from the command line before callbacks run.
struct GlobalOptions {
  std::string root;  ///< --root; empty means MKIMG_ROOT, then the default.
  std::string log_level = "warn";
  std::int64_t max_layer_size = 0;  ///< --max-layer-size; 0 means snapshot's default.
  int exit_code = 0;                ///< set by a callback that wants a non-zero, non-error exit.
  /// `mkimg run IMAGE COMMAND...`: the command, cut off the arguments before CLI11 sees them
  /// so that its own dashes (`ls -l`, `--rm`) are never taken for options of ours.
  std::vector<std::string> run_command;
  /// main()'s argv: what a command that starts mkimg again (common/huge_pages.h) passes on.
  char** argv = nullptr;
};

/// Takes the arguments after `run [options] IMAGE` out of `args` (argv as strings) and returns
/// them; a leading "--" is dropped. Leaves `args` alone when the subcommand is not `run`.
std::vector<std::string> split_run_command(std::vector<std::string>& args);

/// The store root: --root, else $MKIMG_ROOT, else /var/lib/mkimg for root, else
/// $XDG_DATA_HOME/mkimg (~/.local/share/mkimg).
std::filesystem::path store_root(const GlobalOptions& options);

/// What a command does with the store.
enum class StoreUse {
  kWrite,  ///< builds, pulls, tags, removes: the store is made when missing, tmp/ cleaned
  kRead,   ///< lists, inspects, saves: an existing store is opened without writing into it
};

/// Opens the store of store_root(): a writer also clears what a killed mkimg left in tmp/
/// (runtime::clear_leftovers: its containers and mounts) when no other process has it open.
oci::Store open_store(const GlobalOptions& options, StoreUse use = StoreUse::kWrite);

/// A Dockerfile's text from `path` ("-": standard input), refused past 64 MiB (a Dockerfile is
/// small; /dev/zero or a wrong file must not eat the memory). parse_command.cpp.
std::string read_dockerfile_text(const std::string& path);

/// `mkimg run -e TEXT` as docker run takes it: NAME=VALUE as written; NAME alone takes the
/// value from mkimg's environment, nullopt when it is unset (left out). Throws for "=VALUE".
std::optional<std::string> env_flag_value(const std::string& text);

/// The NAME=VALUE entries of `mkimg run --env-file FILE` in docker's format: `NAME=VALUE`
/// (the value as written), `NAME` (from the environment, left out when unset), blank lines and
/// `#` comments. Throws mkimg::Error naming FILE:LINE.
std::vector<std::string> read_env_file(const std::string& path);

/// $SOURCE_DATE_EPOCH as seconds, nullopt when unset or empty; throws mkimg::Error naming it
/// when it is not a plain number of seconds.
std::optional<std::int64_t> source_date_epoch();

/// "12.3MB": bytes in powers of 1000, as docker prints sizes. image_commands.cpp.
std::string human_size(std::int64_t bytes);
/// "3 days ago" for a time in unix seconds. image_commands.cpp.
std::string human_age(std::int64_t when);

/// --insecure-registry, --tls-ca and --registries-config into `options`: how a command reaches
/// registries (docs/registries.md). registry_commands.cpp.
void add_registry_access_flags(CLI::App* cmd, registry::RegistryOptions& options);

void add_parse_commands(CLI::App& app, GlobalOptions& options);     // parse_command.cpp
void add_image_commands(CLI::App& app, GlobalOptions& options);     // image_commands.cpp
void add_registry_commands(CLI::App& app, GlobalOptions& options);  // registry_commands.cpp
/// The registry flags (--insecure-registry, --tls-ca, --registries-config, --parallel) of the
/// command that runs, which the registry transport also uses. registry_commands.cpp.
const registry::RegistryOptions& registry_flags();

void add_build_commands(CLI::App& app, GlobalOptions& options);   // build_command.cpp
void add_run_commands(CLI::App& app, GlobalOptions& options);     // run_command.cpp
void add_diff_commands(CLI::App& app, GlobalOptions& options);    // diff_command.cpp
void add_cache_commands(CLI::App& app, GlobalOptions& options);   // cache_command.cpp
void add_system_commands(CLI::App& app, GlobalOptions& options);  // system_commands.cpp

}  // namespace mkimg::cli
