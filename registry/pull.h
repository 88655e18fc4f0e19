// pull_image: fetch an image (manifest, config, layers, and the index it came from) from a
// registry into the content store. See registry.h for the map of the folder.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "registry/options.h"

namespace mkimg::oci {
class Store;
struct Reference;
struct Descriptor;
}  // namespace mkimg::oci

namespace mkimg::registry {

/// What to pull and how: platform selection in an index, and where progress lines go.
struct PullOptions {
  RegistryOptions registry;
  std::string platform;  ///< "os/arch[/variant]"; empty: linux/<host arch>
  std::function<void(std::string_view)> progress;  ///< one line per event; may be empty
  /// False: only the manifest and the config are fetched and stored, and nothing is tagged
  /// (the image is incomplete in the store): a build that only pushes fetches a base's layers
  /// when a step needs their bytes, and mounts them into the destination otherwise.
  bool layers = true;
};

/// Pulls `ref` into `store` (blobs the store has are not downloaded again), tags it in the
/// store as `ref` names it (unless options.layers is false), and returns the descriptor of the
/// image manifest for the chosen platform. Throws mkimg::Error ("pull `ref`: ...") on any failure;
/// nothing unverified is stored.
oci::Descriptor pull_image(oci::Store& store, const oci::Reference& ref,
                           const PullOptions& options);

}  // namespace mkimg::registry
