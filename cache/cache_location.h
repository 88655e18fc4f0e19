// Where a shared cache lives: what `--cache-to` and `--cache-from` name (docs/cache.md
// "Sharing the cache"). The flags and their values are those of `docker buildx build`.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace mkimg::cache {

/// The kinds of shared cache.
enum class LocationType {
  kRegistry,  ///< one manifest per key in a repository, tagged by the key
  kLocal,     ///< the same manifests in an OCI image layout directory
  kInline,    ///< (--cache-to only) the entries of the image's layers in its own manifest
};

/// Which steps an export writes.
enum class ExportMode {
  kMin,  ///< the steps of the final image (its stage and the stages it is FROM)
  kMax,  ///< every step of every stage built
};

struct CacheLocation {
  LocationType type = LocationType::kRegistry;
  /// kRegistry: the repository, with an optional tag that prefixes every key's tag
  /// ("host/team/cache" or "host/team/app:buildcache").
  std::string ref;
  std::filesystem::path dir;  ///< kLocal: the layout directory
  ExportMode mode = ExportMode::kMin;
  /// cache-mounts=true: also write (--cache-to) or read (--cache-from) the directories of
  /// `RUN --mount=type=cache`, one artifact per id.
  bool cache_mounts = false;
  std::string text;  ///< the value as given, for messages
};

/// A `--cache-to` value: "type=registry,ref=REPO[,mode=min|max]", "type=local,dest=DIR[,mode=
/// min|max]", "type=inline", or a bare "REPO" (type=registry); registry and local take
/// "cache-mounts=true|false" too (so does --cache-from). Throws mkimg::Error naming the
/// value and what is wrong with it.
CacheLocation parse_cache_to(std::string_view text);

/// A `--cache-from` value: "type=registry,ref=REF", "type=local,src=DIR" or a bare "REF". A
/// registry REF may also name an image pushed with type=inline cache.
CacheLocation parse_cache_from(std::string_view text);

/// The tag of `key` ("sha256:<hex>") in a registry cache `ref`: "sha256-<hex>", after the
/// ref's own tag and a dash when it has one.
std::string key_tag(const CacheLocation& location, const std::string& key);

/// The tag of the cache mount `id` in `location`: "mount-<sha256 hex of the id>", after the
/// ref's own tag and a dash when it has one.
std::string mount_tag(const CacheLocation& location, const std::string& id);

/// The repository part of a registry location's ref (the tag, if any, left off).
std::string repository_of(const CacheLocation& location);

}  // namespace mkimg::cache
