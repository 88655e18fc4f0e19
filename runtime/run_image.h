// `mkimg run`'s core: a container from an image's config on a throwaway overlay of its
// unpacked layers, stdio attached. The caller unpacks the layers (snapshot/layer_store.h).
#pragma once

#include <filesystem>
#include <string>
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
};

/// Runs a container from `config` on the overlay of `lowers` (topmost first) with stdio
/// attached; work directories go to the store's tmp/. Returns the container's exit code.
int run_image(const oci::Store& store, const oci::ImageConfig& config,
              const std::vector<std::filesystem::path>& lowers, const RunOptions& options);

}  // namespace mkimg::runtime
