// `mkimg run IMAGE [COMMAND...]`: the image's layers unpacked (snapshot/layer_store.h), then
// runtime::run_image on a throwaway overlay with stdio attached; exits with the container's code.
#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "oci/image.h"
#include "oci/store.h"
#include "runtime/cancel.h"
#include "runtime/run_image.h"
#include "snapshot/layer_store.h"

namespace mkimg::cli {
namespace {

void add_run(CLI::App& app, GlobalOptions& global) {
  auto options = std::make_shared<runtime::RunOptions>();
  auto rm = std::make_shared<bool>(false);
  auto network = std::make_shared<std::string>("host");
  auto* cmd = app.add_subcommand("run", "Run a command in a container from an image");
  cmd->add_flag("--rm", *rm, "Remove the container afterwards (always done)");
  cmd->add_option("--runtime", options->runtime, "runc, crun or a path (default: auto)");
  cmd->add_option("--network", *network, "host (default) or none")
      ->check(CLI::IsMember({"host", "none"}));
  cmd->add_option("image", options->image, "The image")->required();
  cmd->footer("Everything after IMAGE is the command (default: the image's), passed as written.");
  cmd->callback([options, network, &global] {
    options->command = global.run_command;
    runtime::install_interrupt_handlers();
    options->network = *network == "none" ? NetworkMode::kNone : NetworkMode::kHost;
    auto store = open_store(global);
    oci::Image image = oci::load_image(store, options->image);
    auto unpacked = snapshot::ensure_image_unpacked(store, image.config, image.manifest.layers);
    global.exit_code =
        runtime::run_image(store, image.config, snapshot::overlay_lowers(unpacked), *options);
  });
}

}  // namespace

std::vector<std::string> split_run_command(std::vector<std::string>& args) {
  auto takes_value = [](const std::string& arg) {
    return arg == "--root" || arg == "--log-level" || arg == "--runtime" || arg == "--network";
  };
  std::size_t i = 1;
  for (; i < args.size() && args[i] != "run"; ++i) {  // global options before the subcommand
    if (args[i].empty() || args[i][0] != '-') return {};
    if (takes_value(args[i])) ++i;
  }
  for (++i; i < args.size(); ++i) {  // run's options, then IMAGE
    const std::string& arg = args[i];
    if (arg == "--") {
      ++i;
      break;
    }
    if (arg.empty() || arg[0] != '-') break;
    if (takes_value(arg)) ++i;
  }
  if (i + 1 >= args.size()) return {};
  std::vector<std::string> command(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
  args.resize(i + 1);
  if (!command.empty() && command.front() == "--") command.erase(command.begin());
  return command;
}

void add_run_commands(CLI::App& app, GlobalOptions& options) { add_run(app, options); }

}  // namespace mkimg::cli
