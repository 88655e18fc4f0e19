// RegistryOptions: how mkimg reaches registries, shared by pull, push, login and logout.
// registry.h has the map of the folder.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace mkimg::registry {

/// Settings for talking to registries, filled from the command line; the config file
/// (registries.yaml) adds per-registry settings on top.
struct RegistryOptions {
  std::vector<std::string> insecure_registries;  ///< --insecure-registry HOST[:PORT]; HTTP allowed
  std::string tls_ca_file;         ///< --tls-ca FILE: extra CA bundle for every registry
  std::string registries_config;   ///< --registries-config; empty: $MKIMG_REGISTRIES_CONFIG, then
                                   ///< ~/.config/mkimg/registries.yaml (absent file = defaults)
  std::string docker_config_dir;   ///< empty: $DOCKER_CONFIG, then ~/.docker
  std::size_t parallel_blobs = 3;  ///< blobs transferred at the same time
  long timeout_seconds = 60;       ///< connect and low-speed (stall) timeout of each request
  int retries = 3;                 ///< attempts after a transient error (connection, 5xx, 429)
};

}  // namespace mkimg::registry
