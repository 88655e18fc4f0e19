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

Compression sniff_compression(std::string_view head) {
  if (head.starts_with("\x1f\x8b")) return Compression::kGzip;
  if (head.starts_with("\x28\xb5\x2f\xfd")) return Compression::kZstd;
  return Compression::kNone;
}

std::string_view compression_name(Compression compression) {
  switch (compression) {
    case Compression::kNone:
      return "uncompressed";
    case Compression::kGzip:
      return "gzip";
    case Compression::kZstd:
      return "zstd";
  }
  return "uncompressed";
}

}  // namespace mkimg::oci::media_type
