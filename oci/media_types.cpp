// Media type predicates.
#include "oci/media_types.h"

#include <string>

#include "common/error.h"

namespace mkimg::oci::media_type {

bool is_manifest(std::string_view type) { return type == kOciManifest || type == kDockerManifest; }

bool is_index(std::string_view type) { return type == kOciIndex || type == kDockerManifestList; }

bool is_layer(std::string_view type) {
  return type == kOciLayer || type == kOciLayerGzip || type == kOciLayerZstd ||
         type == kOciLayerNondistributable || type == kOciLayerNondistributableGzip ||
         type == kDockerLayer || type == kDockerLayerGzip || type == kDockerForeignLayerGzip;
}

Compression layer_compression(std::string_view type) {
  if (type == kOciLayer || type == kOciLayerNondistributable || type == kDockerLayer) {
    return Compression::kNone;
  }
  if (type == kOciLayerZstd) return Compression::kZstd;
  if (is_layer(type)) return Compression::kGzip;
  throw Error(describe("read layer type", type, "not a layer media type"));
}

std::string_view oci_layer_type(Compression compression) {
  switch (compression) {
    case Compression::kNone:
      return kOciLayer;
    case Compression::kGzip:
      return kOciLayerGzip;
    case Compression::kZstd:
      return kOciLayerZstd;
  }
  return kOciLayer;
}

}  // namespace mkimg::oci::media_type
