// The image documents: Manifest, Index and ImageConfig as plain structs, with canonical JSON
// output and strict parsing.
//
// to_json() is canonical: keys sorted, no insignificant whitespace, absent optionals omitted,
// so the same value always gives the same bytes and therefore the same digest. The parse_*
// functions validate what they read (schemaVersion 2, media types, descriptor digests and
// sizes, a size cap; a document that is both an index and a manifest is refused, docs/security.md
// 18) and throw mkimg::Error ("parse manifest: cause"). They parse exactly the bytes given;
// callers hash the same bytes. nlohmann-json stays in the .cpp files.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "oci/descriptor.h"
#include "oci/digest.h"

namespace mkimg::oci {

/// Manifests, indexes and configs larger than this are refused (docs/security.md 12).
inline constexpr std::size_t kMaxDocumentSize = 4 * 1024 * 1024;

/// An image manifest (OCI or Docker v2 schema 2): a config and an ordered list of layers.
struct Manifest {
  int schema_version = 2;
  std::string media_type;  ///< kOciManifest or kDockerManifest; "" (absent) only for OCI input
  std::optional<std::string> artifact_type;
  Descriptor config;
  std::vector<Descriptor> layers;
  std::optional<Descriptor> subject;
  std::map<std::string, std::string> annotations;

  friend bool operator==(const Manifest&, const Manifest&) = default;
};

/// An image index (OCI) or manifest list (Docker): manifests for several platforms.
struct Index {
  int schema_version = 2;
  std::string media_type;  ///< kOciIndex or kDockerManifestList; "" (absent) only for OCI input
  std::optional<std::string> artifact_type;
  std::vector<Descriptor> manifests;
  std::optional<Descriptor> subject;
  std::map<std::string, std::string> annotations;

  friend bool operator==(const Index&, const Index&) = default;
};

/// The entry of `index` for `want`: an image manifest (OCI or Docker) with a platform whose os
/// and architecture are equal and whose variant is equal after containerd's normalisation (arm64
/// means arm64/v8, arm means arm/v7); when `want` names no variant, another variant of the
/// architecture is the fallback. nullopt when the index lists none.
std::optional<Descriptor> find_platform(const Index& index, const Platform& want);

/// "linux/amd64, linux/arm64/v8": the platforms an index offers, for error messages.
std::string describe_platforms(const Index& index);

/// Docker's HEALTHCHECK settings. Durations are in nanoseconds, as Docker stores them.
struct Healthcheck {
  std::optional<std::vector<std::string>> test;  ///< ["NONE"], ["CMD", ...], ["CMD-SHELL", s]
  std::optional<std::int64_t> interval;
  std::optional<std::int64_t> timeout;
  std::optional<std::int64_t> start_period;
  std::optional<std::int64_t> start_interval;
  std::optional<int> retries;

  friend bool operator==(const Healthcheck&, const Healthcheck&) = default;
};

/// The execution parameters of an image ("config" in the image config). Every field is
/// optional: absent and empty differ where Docker distinguishes them (Cmd absent vs []).
/// JSON null reads as absent.
struct ContainerConfig {
  std::optional<std::string> user;
  std::optional<std::set<std::string>> exposed_ports;  ///< "80/tcp"; JSON object of {}
  std::optional<std::vector<std::string>> env;         ///< "KEY=value"
  std::optional<std::vector<std::string>> entrypoint;
  std::optional<std::vector<std::string>> cmd;
  std::optional<std::set<std::string>> volumes;  ///< JSON object of {}
  std::optional<std::string> working_dir;
  std::optional<std::map<std::string, std::string>> labels;
  std::optional<std::string> stop_signal;
  std::optional<Healthcheck> healthcheck;
  std::optional<std::vector<std::string>> on_build;
  std::optional<std::vector<std::string>> shell;
  std::optional<bool> args_escaped;
  /// Fields mkimg does not model (Docker's Hostname, Tty, ...), key -> canonical JSON text,
  /// kept so a config read and written again loses nothing.
  std::map<std::string, std::string> extra;

  friend bool operator==(const ContainerConfig&, const ContainerConfig&) = default;
};

/// rootfs: the diff ids (digests of the uncompressed layer tars), in layer order.
struct RootFs {
  std::string type = "layers";
  std::vector<Digest> diff_ids;

  friend bool operator==(const RootFs&, const RootFs&) = default;
};

/// One history entry; empty_layer marks a step that made no layer.
struct HistoryEntry {
  std::optional<std::string> created;  ///< RFC 3339
  std::optional<std::string> created_by;
  std::optional<std::string> author;
  std::optional<std::string> comment;
  std::optional<bool> empty_layer;

  friend bool operator==(const HistoryEntry&, const HistoryEntry&) = default;
};

/// The image config (OCI config.md, compatible with Docker's image JSON).
struct ImageConfig {
  std::optional<std::string> created;  ///< RFC 3339
  std::optional<std::string> author;
  std::string architecture;
  std::string os;
  std::optional<std::string> os_version;
  std::optional<std::vector<std::string>> os_features;
  std::optional<std::string> variant;
  std::optional<ContainerConfig> config;
  RootFs rootfs;
  std::vector<HistoryEntry> history;
  /// Top-level fields mkimg does not model (Docker's container_config, docker_version, ...),
  /// key -> canonical JSON text.
  std::map<std::string, std::string> extra;

  friend bool operator==(const ImageConfig&, const ImageConfig&) = default;
};

std::string to_json(const Descriptor& descriptor);
std::string to_json(const Manifest& manifest);
std::string to_json(const Index& index);
std::string to_json(const ImageConfig& config);

/// Strict parsers; each throws mkimg::Error on malformed or oversized input.
Descriptor parse_descriptor(std::string_view json);
Manifest parse_manifest(std::string_view json);
Index parse_index(std::string_view json);
ImageConfig parse_image_config(std::string_view json);

/// A manifest or an index, as a registry or layout may hand back either.
using ManifestDocument = std::variant<Manifest, Index>;
/// Parses a manifest or an index. `media_type` is the type the caller was told (descriptor,
/// Content-Type); "" when unknown. The document's own mediaType, its fields and the type
/// told must agree; a document with both "manifests" and "layers"/"config" is refused.
ManifestDocument parse_manifest_document(std::string_view json, std::string_view media_type);

/// "2026-01-02T03:04:05Z" for a Unix time.
std::string rfc3339_utc(std::int64_t unix_seconds);
/// Seconds since the epoch for an RFC 3339 time; nullopt when unparsable.
std::optional<std::int64_t> parse_rfc3339(std::string_view text);

}  // namespace mkimg::oci
