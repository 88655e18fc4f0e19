// `mkimg diff [--json] IMAGE1 IMAGE2`: what differs between two images (snapshot/image_diff.h):
// config fields, then files layer by layer. Exits like diff(1): 0 identical, 1 different,
// 2 trouble (printed here, not by main.cpp).
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "oci/store.h"
#include "snapshot/image_diff.h"

namespace mkimg::cli {
namespace {

/// What `mkimg diff` reads from the command line.
struct DiffCli {
  std::vector<std::string> images;
  bool json = false;
};

/// `mkimg diff A B`: exit 0 when identical, 1 when different, 2 on an error (like diff(1)).
void run_diff(GlobalOptions& global, const DiffCli& cli) {
  try {
    oci::Store store = open_store(global);
    auto before = snapshot::open_diff_image(store, cli.images.at(0));
    auto after = snapshot::open_diff_image(store, cli.images.at(1));
    snapshot::ImageDiff diff = snapshot::diff_images(*before, *after);
    std::cout << (cli.json ? snapshot::format_json(diff) : snapshot::format_text(diff))
              << std::flush;
    global.exit_code = diff.identical() ? 0 : 1;
  } catch (const std::exception& e) {
    std::cout << std::flush;
    std::cerr << "mkimg: error: " << e.what() << "\n";
    global.exit_code = 2;
  }
}

}  // namespace

void add_diff_commands(CLI::App& app, GlobalOptions& options) {
  auto cli = std::make_shared<DiffCli>();
  auto* diff = app.add_subcommand(
      "diff", "Compare two images: config fields, then files layer by layer (exit 1: differ)");
  diff->add_option("IMAGE", cli->images,
                   "Two images: tag, id or digest in the store, or oci:DIR[:REF], "
                   "oci-archive:FILE[:REF], docker-archive:FILE[:REF]")
      ->required()
      ->expected(2);
  diff->add_flag("--json", cli->json, "Machine-readable output");
  diff->callback([&options, cli] { run_diff(options, *cli); });
}

}  // namespace mkimg::cli
