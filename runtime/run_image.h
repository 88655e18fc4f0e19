// `mkimg run`'s core: a container from an image's config on a throwaway overlay of its
// unpacked layers, stdio attached, with what `docker run` may change of the config (the
// environment, bind mounts, the user, the working directory, the entrypoint, a name, a
// terminal). The caller unpacks the layers (snapshot/layer_store.h) and parses the flags.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "oci/image.h"
#include "runtime/bundle_config.h"

namespace mkimg::oci {
class Store;
}

namespace mkimg::runtime {

/// What `mkimg run` was asked.
struct RunOptions {
  std::string image;
  std::vector<std::string> command;  ///< replaces CMD when not empty
  std::string runtime;
  NetworkMode network = NetworkMode::kHost;
  /// KEY=VALUE (-e, --env-file), in order: each replaces the image's value of its KEY (or an
  /// earlier one of these), else is appended.
  std::vector<std::string> env;
  /// Host paths bound into the container (-v, --mount); each source must exist, each
  /// destination be absolute.
  std::vector<BindMount> binds;
  std::string user;     ///< USER[:GROUP] (names or ids); empty: the image's USER
  std::string workdir;  ///< absolute; empty: the image's WORKDIR (created when missing)
  /// --entrypoint: replaces the image's ENTRYPOINT, and its CMD too (only `command` follows);
  /// "" clears the ENTRYPOINT.
  std::optional<std::string> entrypoint;
  /// The container's id in the runtime (--name); empty: a fresh mkimg-<pid>-... id. A second
  /// run of a name while the first runs fails.
  std::string name;
  bool interactive = false;  ///< -i: the container reads our stdin (else /dev/null)
  bool terminal = false;     ///< -t: a pseudo-terminal, connected to ours by the runtime
};

/// Whether `name` is a container name `docker run --name` accepts: [a-zA-Z0-9][a-zA-Z0-9_.-]+.
bool valid_container_name(std::string_view name);

/// The process environment of the container: the image's ENV, then `overrides` (KEY=VALUE,
/// later ones win, each in its key's place or appended), then a default PATH when none, and
/// TERM=xterm for a terminal when none (as Docker does).
std::vector<std::string> container_env(const std::vector<std::string>& image_env,
                                       const std::vector<std::string>& overrides, bool terminal);

/// The argv of the container's process: ENTRYPOINT + (command or CMD), as changed by
/// `options.entrypoint`. Throws naming the image when it is empty.
std::vector<std::string> container_args(const oci::ContainerConfig& config,
                                        const RunOptions& options);

/// Runs a container from `config` on the overlay of `lowers` (topmost first) with stdio
/// attached; work directories go to the store's tmp/. Returns the container's exit code.
int run_image(const oci::Store& store, const oci::ImageConfig& config,
              const std::vector<std::filesystem::path>& lowers, const RunOptions& options);

}  // namespace mkimg::runtime
