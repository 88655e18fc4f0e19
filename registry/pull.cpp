// pull_image: resolve the reference, choose the platform's manifest in an index, download
// config and layers into the store (RegistrySource does it, verified), then store the
// manifest (and the index) and move the tag.
#include "registry/pull.h"

#include "common/error.h"
#include "oci/image.h"
#include "oci/media_types.h"
#include "oci/reference.h"
#include "oci/store.h"
#include "oci/transport.h"
#include "registry/source.h"

namespace mkimg::registry {
namespace {

oci::Platform wanted_platform(const PullOptions& options) {
  return options.platform.empty() ? oci::host_platform() : oci::parse_platform(options.platform);
}

/// Checks that `bytes` are what `d` names, and parses them as an image manifest.
oci::Manifest checked_manifest(const oci::Descriptor& d, const std::string& bytes) {
  if (static_cast<std::int64_t>(bytes.size()) != d.size) {
    throw Error(describe(
        "fetch manifest", d.digest.str(),
        "size " + std::to_string(bytes.size()) + ", the index says " + std::to_string(d.size)));
  }
  oci::ManifestDocument doc = oci::parse_manifest_document(bytes, d.media_type);
  if (!std::holds_alternative<oci::Manifest>(doc)) {
    throw Error(describe("fetch manifest", d.digest.str(), "an index inside an index"));
  }
  return std::get<oci::Manifest>(std::move(doc));
}

/// Every blob of `m` must now be in the store (the layers only when they were fetched), the
/// config must match the layers, and each layer's bytes its media type.
void check_complete(const oci::Store& store, const oci::Manifest& m, bool layers) {
  oci::ImageConfig config = oci::parse_image_config(store.read_blob(m.config.digest));
  if (config.rootfs.diff_ids.size() != m.layers.size()) {
    throw Error(describe("check image", m.config.digest.str(),
                         std::to_string(config.rootfs.diff_ids.size()) + " diff_ids for " +
                             std::to_string(m.layers.size()) + " layers"));
  }
  for (const auto& layer : m.layers) {
    if (!layers) break;
    if (layer.urls.empty() && !store.has_blob(layer.digest)) {
      throw Error(describe("check image", layer.digest.str(), "layer missing after download"));
    }
    if (oci::media_type::is_layer(layer.media_type) && store.has_blob(layer.digest)) {
      oci::verify_layer_blob(store, layer);
    }
  }
}

oci::Descriptor pull(oci::Store& store, const oci::Reference& ref, const PullOptions& options) {
  RegistrySource source(ref, store, options.registry, options.progress);
  source.fetch_layers(options.layers);
  oci::Descriptor top = source.resolve();
  std::string top_bytes = source.fetch_manifest(top);
  oci::Descriptor chosen = top;
  std::string bytes = top_bytes;
  if (oci::media_type::is_index(top.media_type)) {
    oci::ManifestDocument doc = oci::parse_manifest_document(top_bytes, top.media_type);
    if (!std::holds_alternative<oci::Index>(doc)) throw Error("the index is not an index");
    const oci::Index& index = std::get<oci::Index>(doc);
    oci::Platform want = wanted_platform(options);
    auto entry = oci::find_platform(index, want);
    if (!entry) {
      throw Error("no image for platform " + oci::to_string(want) + " (the index has " +
                  oci::describe_platforms(index) + ")");
    }
    chosen = *entry;
    bytes = source.fetch_manifest(chosen);
  }
  oci::Manifest manifest = checked_manifest(chosen, bytes);
  check_complete(store, manifest, options.layers);
  oci::Descriptor stored = store.put_blob(bytes, chosen.media_type, {chosen.digest, chosen.size});
  if (chosen.digest != top.digest)
    store.put_blob(top_bytes, top.media_type, {top.digest, top.size});
  if (!options.layers) {
    // Incomplete: not in index.json, so nothing takes it for an image the store holds.
  } else if (ref.tag) {
    store.tag(ref, stored);
  } else {
    store.add_untagged(stored);
  }
  if (options.progress) options.progress("pulled " + ref.str() + " " + stored.digest.str());
  return stored;
}

}  // namespace

oci::Descriptor pull_image(oci::Store& store, const oci::Reference& ref,
                           const PullOptions& options) {
  try {
    return pull(store, ref, options);
  } catch (const std::exception& e) {
    throw with_context("pull `" + ref.str() + "`", e);
  }
}

}  // namespace mkimg::registry
