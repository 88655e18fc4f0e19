// The `mkimg` command: global options, then one subcommand from a *_command(s).cpp file (cli.h).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <set>
#include <string>

#include "cli/cli.h"
#include "cli/log_sink.h"
#include "common/error.h"
#include "common/huge_pages.h"
#include "common/user_namespace.h"
#include "common/version.h"
#include "oci/store.h"
#include "runtime/container_runtime.h"
#include "runtime/rootless.h"
#include "snapshot/apply.h"

namespace mkimg::cli {

std::filesystem::path store_root(const GlobalOptions& options) {
  if (!options.root.empty()) return options.root;
  if (const char* env = std::getenv("MKIMG_ROOT"); env && *env) return env;
  if (::geteuid() == 0 && !in_user_namespace()) return "/var/lib/mkimg";
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg) {
    return std::filesystem::path(xdg) / "mkimg";
  }
  const char* home = std::getenv("HOME");
  return std::filesystem::path(home ? home : "/tmp") / ".local/share/mkimg";
}

oci::Store open_store(const GlobalOptions& options, StoreUse use) {
  return oci::Store::open(store_root(options), {.read_only = use == StoreUse::kRead,
                                                .clear_leftovers = runtime::clear_leftovers});
}

namespace {

/// Commands that write files of an image's owners (unpacked layers, RUN, COPY --chown) or
/// remove them: run by an ordinary user, they run as root of a user namespace of their own
/// (runtime/rootless.h). The others (images, pull, push, ...) touch only the user's files.
bool needs_user_namespace(const CLI::App& app) {
  static const std::set<std::string> commands{"build", "run", "import", "load", "prune", "diff"};
  for (const CLI::App* sub : app.get_subcommands()) {
    // `cache prune` of the store's cache removes cache mounts (files of the images' owners);
    // with --ref it talks to a registry only.
    if (sub->get_name() == "cache") return sub->get_subcommand("prune")->count("--ref") == 0;
    return commands.count(sub->get_name()) > 0;
  }
  return false;
}

/// The subcommand the arguments reached (the deepest one parsed), or the app itself.
const CLI::App& reached(const CLI::App& app) {
  for (const CLI::App* sub : app.get_subcommands()) return reached(*sub);
  return app;
}

/// A usage error as every error is printed (`mkimg: error: ...`), then the usage line of the
/// command it concerns, on stderr; exit 2 as for every usage error (README, diff(1)).
int usage_error(const CLI::App& app, const CLI::ParseError& e) {
  const CLI::App& command = reached(app);
  std::vector<std::string> left = command.remaining();
  bool has_commands = !command.get_subcommands([](const CLI::App*) { return true; }).empty();
  if (has_commands && !left.empty() && left.front().rfind('-', 0) != 0) {
    std::cerr << "mkimg: error: unknown command `" << left.front() << "`\n";
  } else {
    std::cerr << "mkimg: error: " << e.what() << "\n";
  }
  std::string name = command.get_name();  // "cache prune": the path below mkimg
  for (const CLI::App* a = command.get_parent(); a && a != &app; a = a->get_parent()) {
    name = a->get_name() + " " + name;
  }
  name = &command == &app ? "mkimg" : "mkimg " + name;
  std::string help = command.help();
  if (size_t at = help.find("Usage:"); at != std::string::npos) {
    std::string line = help.substr(at, help.find('\n', at) - at);  // "Usage: build [OPTIONS]..."
    if (size_t own = line.find(command.get_name(), 7); &command != &app && own != line.npos) {
      line.replace(0, own + command.get_name().size(), "Usage: " + name);
    }
    std::cerr << line << "\n";
  }
  std::cerr << "Run '" << name << " --help' for more.\n";
  return 2;
}

}  // namespace

}  // namespace mkimg::cli

int main(int argc, char** argv) {
  mkimg::restore_glibc_tunables();  // common/huge_pages.h: `build` may start mkimg again
  using namespace mkimg::cli;
  GlobalOptions options;
  options.argv = argv;
  CLI::App app{"mkimg: build, store and ship OCI container images without a daemon", "mkimg"};
  app.set_version_flag("--version", "mkimg " + std::string(mkimg::kVersion));
  app.require_subcommand(1);
  app.add_option("--root", options.root,
                 "Store directory (default: $MKIMG_ROOT, /var/lib/mkimg as root, else "
                 "$XDG_DATA_HOME/mkimg or ~/.local/share/mkimg)")
      ->check([](const std::string& v) {
        return v.empty() ? std::string("--root: an empty path is not a store") : std::string();
      });
  setup_logging(options.log_level);
  app.add_option("--log-level", options.log_level,
                 "trace, debug, info, warn, error, off (default: $MKIMG_LOG_LEVEL or warn)")
      ->envname("MKIMG_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  app.add_option("--max-layer-size", options.max_layer_size,
                 "Refuse a layer that uncompresses to more than SIZE bytes (suffixes k, m, g: "
                 "powers of 1024; default: $MKIMG_MAX_LAYER_SIZE, else 64g)")
      ->envname("MKIMG_MAX_LAYER_SIZE")
      ->transform(CLI::AsSizeValue(false))
      ->check([](const std::string& v) {  // v is the number of bytes here
        bool positive = !v.empty() && v[0] != '-' && v.find_first_not_of('0') != std::string::npos;
        return positive ? std::string() : v + " is not a positive size";
      });
  app.parse_complete_callback([&] {
    setup_logging(options.log_level);
    if (options.max_layer_size > 0) mkimg::snapshot::set_max_layer_size(options.max_layer_size);
    if (::geteuid() != 0 && needs_user_namespace(app)) mkimg::runtime::enter_user_namespace();
  });
  add_parse_commands(app, options);
  add_image_commands(app, options);
  add_build_commands(app, options);  // before the registry flags, which `verify` takes too
  add_registry_commands(app, options);
  add_run_commands(app, options);
  add_diff_commands(app, options);
  add_cache_commands(app, options);
  add_system_commands(app, options);
  try {
    std::vector<std::string> args(argv, argv + argc);
    options.run_command = split_run_command(args);
    std::vector<std::string> reversed(args.rbegin(), args.rend() - 1);  // CLI11's order
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --help-all: asked for
    return usage_error(app, e);
  } catch (const std::exception& e) {
    std::cerr << "mkimg: error: " << e.what() << "\n";
    return 1;
  }
  return options.exit_code;
}
