// Registry subcommands: push, login, logout, and the registry flags of `pull` (which
// image_commands.cpp defines for every source; the registry transport registered here is how it
// reaches registries). Progress goes to stderr; the pushed digest to stdout.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <iterator>
#include <memory>

#include "cli/cli.h"
#include "common/error.h"
#include "oci/descriptor.h"
#include "oci/reference.h"
#include "oci/store.h"
#include "registry/login.h"
#include "registry/push.h"
#include "registry/source.h"

namespace mkimg::cli {
namespace {

/// Everything the registry subcommands read from the command line.
struct RegistryCli {
  std::shared_ptr<registry::RegistryOptions> registry =
      std::make_shared<registry::RegistryOptions>();
  std::string name, dest, server, user, password;
  bool password_stdin = false;
  bool quiet = false;
  std::int64_t chunk_size = 16 * 1024 * 1024;
};

void add_registry_flags(CLI::App* cmd, RegistryCli& cli) {
  registry::RegistryOptions& o = *cli.registry;
  add_registry_access_flags(cmd, o);
  cmd->add_option("--parallel", o.parallel_blobs, "Blobs transferred at once (default 3)")
      ->check(CLI::Range(1, 16));
}

std::function<void(std::string_view)> progress(const RegistryCli& cli) {
  if (cli.quiet) return {};
  return [](std::string_view line) { std::cerr << line << "\n"; };
}

oci::Reference parse_dest(std::string_view text) {
  if (text.starts_with("docker://")) text.remove_prefix(9);
  return oci::Reference::parse(text);
}

void run_push(const GlobalOptions& global, const RegistryCli& cli) {
  oci::Store store = open_store(global);
  oci::Reference dest = parse_dest(cli.dest.empty() ? cli.name : cli.dest);
  registry::PushOptions options{*cli.registry, progress(cli), cli.chunk_size};
  oci::Descriptor pushed = registry::push_image(store, cli.name, dest, options);
  std::cout << pushed.digest.str() << "\n";
}

std::string read_password(const RegistryCli& cli) {
  if (cli.password_stdin) {
    std::string all{std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
    while (!all.empty() && (all.back() == '\n' || all.back() == '\r')) all.pop_back();
    return all;
  }
  if (cli.password.empty()) throw Error("login: a password is needed: -p PASS or --password-stdin");
  return cli.password;
}

void run_login(const RegistryCli& cli) {
  if (cli.user.empty()) throw Error("login: a user name is needed: -u USER");
  registry::login(cli.server, {cli.user, read_password(cli)}, *cli.registry);
  std::cout << "Login Succeeded\n";
}

void run_logout(const RegistryCli& cli) {
  std::string domain = registry::login_domain(cli.server);
  if (registry::logout(cli.server, *cli.registry)) {
    std::cout << "Removing login credentials for " << domain << "\n";
  } else {
    std::cout << "Not logged in to " << domain << "\n";
  }
}

CLI::App* existing(CLI::App& app, const std::string& name) {
  auto found = app.get_subcommands([&](CLI::App* a) { return a->get_name() == name; });
  return found.empty() ? nullptr : found.front();
}

}  // namespace

void add_registry_access_flags(CLI::App* cmd, registry::RegistryOptions& o) {
  cmd->add_option("--insecure-registry", o.insecure_registries,
                  "Registry (HOST[:PORT]) reached over plain HTTP or unverified TLS; repeatable");
  cmd->add_option("--tls-ca", o.tls_ca_file, "Extra CA bundle (PEM) trusted for registries")
      ->check(CLI::ExistingFile);
  cmd->add_option("--registries-config", o.registries_config,
                  "registries.yaml (default: $MKIMG_REGISTRIES_CONFIG, "
                  "~/.config/mkimg/registries.yaml)");
}

namespace {

/// The registry subcommands' flags (one set: one command runs per process).
RegistryCli& registry_cli() {
  static RegistryCli cli;
  return cli;
}

}  // namespace

const registry::RegistryOptions& registry_flags() { return *registry_cli().registry; }

void add_registry_commands(CLI::App& app, GlobalOptions& options) {
  RegistryCli& cli = registry_cli();
  registry::register_registry_transport(cli.registry);

  auto* push = app.add_subcommand("push", "Push an image from the store to a registry");
  push->add_option("NAME", cli.name, "Image in the store (tag, digest or id)")->required();
  push->add_option("DEST", cli.dest, "Destination reference (default: NAME)");
  push->add_option("--chunk-size", cli.chunk_size,
                   "Blobs larger than this go up in PATCH chunks of this size (bytes)")
      ->check(CLI::Range(std::int64_t{1} << 10, std::int64_t{1} << 30));
  push->add_flag("-q,--quiet", cli.quiet, "No progress output");
  add_registry_flags(push, cli);
  push->callback([&options, &cli] { run_push(options, cli); });

  // `pull` is defined with the image commands (image_commands.cpp, for every source); the
  // registry flags are added to it here.
  CLI::App* pull = existing(app, "pull");
  if (pull == nullptr) throw Error("internal: `pull` must be added before the registry flags");
  add_registry_flags(pull, cli);
  // `verify` pulls an image that is not in the store, and its rebuild pulls pinned bases.
  CLI::App* verify = existing(app, "verify");
  if (verify == nullptr) throw Error("internal: `verify` must be added before the registry flags");
  add_registry_flags(verify, cli);

  auto* login =
      app.add_subcommand("login", "Log in to a registry (saved in ~/.docker/config.json)");
  login->add_option("REGISTRY", cli.server, "Registry host[:port]")->required();
  login->add_option("-u,--username", cli.user, "User name");
  auto* pw = login->add_option("-p,--password", cli.password, "Password");
  login->add_flag("--password-stdin", cli.password_stdin, "Read the password from stdin")
      ->excludes(pw);
  add_registry_flags(login, cli);
  login->callback([&cli] { run_login(cli); });

  auto* logout = app.add_subcommand("logout", "Log out of a registry");
  logout->add_option("REGISTRY", cli.server, "Registry host[:port]")->required();
  logout->callback([&cli] { run_logout(cli); });
}

}  // namespace mkimg::cli
