// Descriptors: the typed, sized, content-addressed pointers that link manifests, indexes,
// configs and layers (OCI image spec, descriptor.md).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "oci/digest.h"

namespace mkimg::oci {

/// The platform an image runs on, as an index entry or a config states it.
struct Platform {
  std::string architecture;  ///< GOARCH spelling: amd64, arm64, ...
  std::string os;            ///< linux, windows, ...
  std::string os_version;    ///< "" when absent
  std::vector<std::string> os_features;
  std::string variant;  ///< v7, v8, ... "" when absent

  friend bool operator==(const Platform&, const Platform&) = default;
};

/// The platform of this machine: linux/<GOARCH of the host>.
Platform host_platform();
/// "os/arch[/variant]".
std::string to_string(const Platform& platform);
/// Parses "os/arch[/variant]"; throws mkimg::Error when malformed.
Platform parse_platform(std::string_view text);

/// A pointer to a blob: media type, digest, size, and optional extras.
struct Descriptor {
  std::string media_type;
  Digest digest;
  std::int64_t size = 0;
  std::vector<std::string> urls;
  std::map<std::string, std::string> annotations;
  std::optional<Platform> platform;
  std::optional<std::string> artifact_type;

  friend bool operator==(const Descriptor&, const Descriptor&) = default;
};

/// The annotation that names a tag in an OCI layout's index.json.
inline constexpr const char* kRefNameAnnotation = "org.opencontainers.image.ref.name";

}  // namespace mkimg::oci
