// The media types mkimg reads and writes: OCI image spec v1 and Docker image manifest v2,
// schema 2. Docker's types are accepted on input and kept verbatim; mkimg writes OCI types.
#pragma once

#include <string_view>

namespace mkimg::oci::media_type {

// OCI image spec v1.
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kOciLayer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kOciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::string_view kOciLayerNondistributable =
    "application/vnd.oci.image.layer.nondistributable.v1.tar";
inline constexpr std::string_view kOciLayerNondistributableGzip =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
inline constexpr std::string_view kOciEmpty = "application/vnd.oci.empty.v1+json";
inline constexpr std::string_view kOciLayoutHeader = "application/vnd.oci.layout.header.v1+json";

// Docker image manifest v2, schema 2.
inline constexpr std::string_view kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kDockerLayerGzip =
    "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr std::string_view kDockerLayer = "application/vnd.docker.image.rootfs.diff.tar";
inline constexpr std::string_view kDockerForeignLayerGzip =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

/// True for an image manifest type (OCI or Docker).
bool is_manifest(std::string_view type);
/// True for an index type (OCI index or Docker manifest list).
bool is_index(std::string_view type);
/// True for a layer type this store can hold and unpack (tar, gzip or zstd; OCI or Docker).
bool is_layer(std::string_view type);

/// How a layer blob is compressed, from its media type.
enum class Compression { kNone, kGzip, kZstd };
/// The compression a layer media type names; throws mkimg::Error for a non-layer type.
Compression layer_compression(std::string_view type);
/// The OCI layer media type for a compression.
std::string_view oci_layer_type(Compression compression);
/// The compression a layer blob's first bytes show: gzip (1f 8b), zstd (28 b5 2f fd), else
/// none (a tar). Four bytes are enough; fewer (a short blob) are no magic.
Compression sniff_compression(std::string_view head);
/// "gzip", "zstd" or "uncompressed", for messages.
std::string_view compression_name(Compression compression);

}  // namespace mkimg::oci::media_type
