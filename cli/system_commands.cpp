// The commands that set up the host rather than touch the store: `mkimg setup-binfmt`, which
// mounts binfmt_misc and registers QEMU's emulators so RUN works for foreign platforms
// (runtime/emulation.h). One line per platform on stdout.
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

#include "cli/cli.h"
#include "common/error.h"
#include "runtime/emulation.h"

namespace mkimg::cli {
namespace {

void run_setup_binfmt(const runtime::SetupBinfmtOptions& options) {
  runtime::SetupBinfmtResult result = runtime::setup_binfmt(options);
  if (!result.mount.empty()) std::cout << result.mount << "\n";
  std::string failed;
  for (const auto& report : result.platforms) {
    std::cout << report.text << "\n";
    if (!report.ok()) failed += (failed.empty() ? "" : ", ") + report.platform;
  }
  std::cout.flush();
  if (!failed.empty()) {
    throw Error(describe("set up", "binfmt_misc", "not done for " + failed + " (see above)"));
  }
}

}  // namespace

void add_system_commands(CLI::App& app, GlobalOptions&) {
  auto options = std::make_shared<runtime::SetupBinfmtOptions>();
  auto* setup = app.add_subcommand(
      "setup-binfmt",
      "Mount binfmt_misc and register QEMU's emulators (qemu-user-static) for RUN of foreign "
      "platforms (root)");
  setup
      ->add_option("--platform", options->platforms,
                   "os/arch[/variant], comma-separated (default: every foreign architecture "
                   "with a /usr/lib/binfmt.d/qemu-*.conf)")
      ->delimiter(',');
  setup->add_flag("--dry-run", options->dry_run, "Say what would be done, change nothing");
  setup->callback([options] { run_setup_binfmt(*options); });
}

}  // namespace mkimg::cli
