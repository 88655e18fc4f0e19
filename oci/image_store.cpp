// load_image and write_image: the store seen as images rather than blobs.
#include "common/error.h"
#include "oci/media_types.h"
#include "oci/store.h"

namespace mkimg::oci {
namespace {

bool platform_matches(const Descriptor& d, const Platform& want) {
  if (!d.platform) return false;
  const Platform& p = *d.platform;
  if (p.os != want.os || p.architecture != want.architecture) return false;
  return want.variant.empty() || p.variant.empty() || p.variant == want.variant;
}

Descriptor pick_platform(const Index& index, std::string_view what) {
  Platform host = host_platform();
  for (const auto& m : index.manifests) {
    if (media_type::is_manifest(m.media_type) && platform_matches(m, host)) return m;
  }
  throw Error(describe("load image", what, "the index has no manifest for " + to_string(host)));
}

}  // namespace

Image load_image(const Store& store, const Descriptor& descriptor) {
  std::string what = descriptor.digest.str();
  try {
    auto doc = parse_manifest_document(store.read_blob(descriptor.digest), descriptor.media_type);
    Image image;
    image.manifest_descriptor = descriptor;
    if (auto* index = std::get_if<Index>(&doc)) {
      image.manifest_descriptor = pick_platform(*index, what);
      image.manifest = parse_manifest(store.read_blob(image.manifest_descriptor.digest));
    } else {
      image.manifest = std::get<Manifest>(doc);
    }
    image.config = parse_image_config(store.read_blob(image.manifest.config.digest));
    return image;
  } catch (const Error& e) {
    throw with_context("load image `" + what + "`", e);
  }
}

Image load_image(const Store& store, std::string_view name) {
  auto descriptor = store.resolve(name);
  if (!descriptor) throw Error(describe("load image", name, "no such image in the store"));
  return load_image(store, *descriptor);
}

Descriptor write_image(const Store& store, const ImageConfig& config,
                       const std::vector<Descriptor>& layers,
                       const std::map<std::string, std::string>& annotations, LayerBlobs blobs) {
  Manifest manifest;
  manifest.media_type = std::string(media_type::kOciManifest);
  manifest.config = store.put_blob(to_json(config), media_type::kOciConfig);
  for (const auto& layer : layers) {
    if (blobs == LayerBlobs::kInStore && !store.has_blob(layer.digest)) {
      throw Error(describe("write image", layer.digest.str(), "layer blob not in the store"));
    }
    manifest.layers.push_back(layer);
  }
  manifest.annotations = annotations;
  return store.put_blob(to_json(manifest), media_type::kOciManifest);
}

}  // namespace mkimg::oci
