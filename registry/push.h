// push_image: send an image from the content store to a registry. See registry.h for the map
// of the folder.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "registry/options.h"

namespace mkimg::oci {
class Store;
struct Reference;
struct Descriptor;
}  // namespace mkimg::oci

namespace mkimg::registry {

/// How to push: registry settings, and where progress lines go.
struct PushOptions {
  RegistryOptions registry;
  std::function<void(std::string_view)> progress;  ///< one line per event; may be empty
  std::int64_t chunk_size = 16 * 1024 * 1024;      ///< blobs larger than this go up in PATCH chunks
  /// Repositories (`host/path`) known to have a blob, by digest: a blob the destination lacks
  /// is mounted from there when it is on the destination's registry, instead of uploaded.
  std::map<std::string, std::string> origins;
  /// Brings a blob the store lacks into it (a layer a shared cache named and nothing
  /// downloaded yet); called only when neither the destination has it nor a mount worked.
  /// Without it such a blob is an error.
  std::function<void(const oci::Descriptor&)> fetch_missing;
};

/// Pushes the image the store tags as `source` (a manifest or an index with its manifests)
/// to `dest`: blobs first (HEAD, then a cross-repository mount or an upload), manifests
/// last. Returns the descriptor of the top manifest or index as pushed. Throws mkimg::Error
/// ("push `dest`: ...") on failure.
oci::Descriptor push_image(oci::Store& store, const std::string& source, const oci::Reference& dest,
                           const PushOptions& options);

/// The same for the manifest `top` (in the store, possibly untagged).
oci::Descriptor push_image(oci::Store& store, const oci::Descriptor& top,
                           const oci::Reference& dest, const PushOptions& options);

}  // namespace mkimg::registry
