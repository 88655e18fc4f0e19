// load_image and write_image: the store seen as images rather than blobs.
#include "common/error.h"
#include "oci/image.h"
#include "oci/media_types.h"
#include "oci/store.h"

namespace mkimg::oci {
Image load_image(const Store& store, const Descriptor& descriptor,
                 const std::optional<Platform>& platform) {
  std::string what = descriptor.digest.str();
  try {
    auto doc = parse_manifest_document(store.read_blob(descriptor.digest), descriptor.media_type);
    Image image;
    image.manifest_descriptor = descriptor;
    if (auto* index = std::get_if<Index>(&doc)) {
      Platform want = platform.value_or(host_platform());
      auto chosen = find_platform(*index, want);
      if (!chosen) throw Error("the index has no manifest for " + to_string(want));
      if (!store.has_blob(chosen->digest)) {
        throw Error("the store has not got the index's manifest for " + to_string(want) +
                    " (pull it with --platform " + to_string(want) + ")");
      }
      image.manifest_descriptor = *chosen;
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

Image load_image(const Store& store, std::string_view name,
                 const std::optional<Platform>& platform) {
  auto descriptor = store.resolve(name);
  if (!descriptor) throw Error(describe("load image", name, "no such image in the store"));
  return load_image(store, *descriptor, platform);
}

void image_blobs(const Store& store, const Descriptor& top, std::set<Digest>& out) {
  if (!out.insert(top.digest).second || !store.has_blob(top.digest)) return;
  if (!media_type::is_index(top.media_type) && !media_type::is_manifest(top.media_type)) return;
  auto doc = parse_manifest_document(store.read_blob(top.digest), top.media_type);
  if (auto* index = std::get_if<Index>(&doc)) {
    for (const auto& m : index->manifests) image_blobs(store, m, out);
    return;
  }
  const auto& manifest = std::get<Manifest>(doc);
  out.insert(manifest.config.digest);
  for (const auto& l : manifest.layers) out.insert(l.digest);
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
