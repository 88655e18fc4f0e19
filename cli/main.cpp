// The `mkimg` command: global options, then one subcommand from a *_command(s).cpp file (cli.h).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "cli/cli.h"
#include "cli/log_sink.h"
#include "common/error.h"

namespace mkimg::cli {

std::filesystem::path store_root(const GlobalOptions& options) {
  if (!options.root.empty()) return options.root;
  if (const char* env = std::getenv("MKIMG_ROOT"); env && *env) return env;
  if (::geteuid() == 0) return "/var/lib/mkimg";
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg) {
    return std::filesystem::path(xdg) / "mkimg";
  }
  const char* home = std::getenv("HOME");
  return std::filesystem::path(home ? home : "/tmp") / ".local/share/mkimg";
}

}  // namespace mkimg::cli

int main(int argc, char** argv) {
  using namespace mkimg::cli;
  GlobalOptions options;
  CLI::App app{"mkimg: build, store and ship OCI container images without a daemon"};
  app.require_subcommand(1);
  app.add_option("--root", options.root,
                 "Store directory (default: $MKIMG_ROOT or /var/lib/mkimg)");
  setup_logging(options.log_level);
  app.add_option("--log-level", options.log_level,
                 "trace, debug, info, warn, error, off (default: $MKIMG_LOG_LEVEL or warn)")
      ->envname("MKIMG_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  app.parse_complete_callback([&] { setup_logging(options.log_level); });
  add_parse_commands(app, options);
  add_image_commands(app, options);
  add_registry_commands(app, options);
  add_build_commands(app, options);
  add_run_commands(app, options);
  add_diff_commands(app, options);
  try {
    std::vector<std::string> args(argv, argv + argc);
    options.run_command = split_run_command(args);
    std::vector<std::string> reversed(args.rbegin(), args.rend() - 1);  // CLI11's order
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    // `mkimg diff` exits like diff(1): 0 same, 1 different, 2 trouble (a usage error too).
    if (code != 0 && app.got_subcommand("diff")) return 2;
    return code;
  } catch (const std::exception& e) {
    std::cerr << "mkimg: error: " << e.what() << "\n";
    return 1;
  }
  return options.exit_code;
}
