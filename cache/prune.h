// Garbage collection of the step cache: `mkimg cache prune` (docs/cache.md "Pruning the
// cache"), for the store's own cache and for a registry cache.
//
// The store's cache: the step entries (steps/<hex>.json and .parts), the layer blobs only
// entries refer to (no index.json image reaches them), and the RUN --mount=type=cache
// directories under <root>/cache/mounts (builder/run_mounts.cpp makes them). Age is the time
// of last use: an entry file's mtime, which a cache hit sets (mark_used, at most once an hour,
// so a no-op rebuild still writes nothing), and a cache mount's mtime, which a RUN using it
// sets the same way. Everything happens under the store lock held exclusive (oci::Store::gc
// with GcOptions::choose): no build is running, so no build loses an entry or a blob it found.
//
// A registry cache (one artifact per key and per cache mount id, shared_cache.h): the tags
// that are the ref's key tags (`sha256-<hex>`, `TAG-sha256-<hex>`) or mount tags
// (`mount-<hex>`, `TAG-mount-<hex>`) and whose manifest's config is an entry (kEntryMediaType)
// or a cache mount (kMountMediaType) are deleted by digest when the document's `created` is
// older than the limit. Nothing else is touched: another artifact or an image under such a tag
// stays. A registry
// deletes a manifest with every tag naming it: an entry exported byte for byte to two caches of
// one repository (the same entry, so the same age) goes from both, and the report names the
// other cache's tag. The registry frees the blobs with its own garbage collection.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "registry/options.h"

namespace mkimg::oci {
class Store;
}  // namespace mkimg::oci

namespace mkimg::cache {

/// Sets the mtime of `path` (an entry file, a cache mount directory) to now when it is more
/// than an hour old: the time of last use prune reads. Errors are ignored (a read-only store).
void mark_used(const std::filesystem::path& path);

/// What a prune removes. With neither limit, all of it (as `docker buildx prune` without
/// filters removes all the build cache no build is using).
struct PruneLimits {
  /// Remove what was not used (local) or made (registry) for this long.
  std::optional<std::chrono::seconds> older_than;
  /// (local) Then remove the least recently used until the cache holds at most this.
  std::optional<std::int64_t> keep_storage;
};

/// One thing a prune removed, or would remove.
struct PrunedItem {
  enum class Kind { kEntry, kMount } kind = Kind::kEntry;
  std::string name;            ///< the key ("sha256:<hex>"), or the mount's directory name
  std::int64_t bytes = 0;      ///< what removing it frees (an entry: its files, and its layer
                               ///< blob when no other entry or image keeps it)
  std::int64_t last_used = 0;  ///< unix seconds
};

/// What a local prune did.
struct LocalPruneReport {
  std::vector<PrunedItem> removed;
  std::size_t entries = 0, mounts = 0, blobs = 0;
  std::int64_t bytes = 0;  ///< freed: entry files, layer blobs and cache mounts
  std::int64_t held = 0;   ///< what the cache still holds afterwards (as keep_storage counts)
};

struct LocalPruneOptions {
  PruneLimits limits;
  bool dry_run = false;  ///< decide and report; remove nothing, take no exclusive lock
  /// Called when builds or runs have the store open and the prune waits for them.
  std::function<void()> on_wait;
};

/// Prunes the step cache and the cache mounts of `store` (opened to write).
LocalPruneReport prune_local(const oci::Store& store, const LocalPruneOptions& options);

/// One key or mount tag of a registry cache and what the prune did with it.
struct RegistryItem {
  enum class Action {
    kDeleted,     ///< (or would be, in a dry run)
    kKept,        ///< newer than the limit
    kNotEntry,    ///< such a tag whose manifest is not a cache entry or mount: never deleted
    kNotDeleted,  ///< old, but the registry refused deletes before it was reached
  } action = Action::kKept;
  std::string tag;
  bool mount = false;   ///< a cache mount's tag (`mount-<hex>`), else a step entry's
  std::string digest;   ///< of the manifest
  std::string created;  ///< the entry's or mount's, as written
  std::string note;     ///< why it is not a cache entry, or why its age is unknown
  /// Tags of other caches in the repository naming the same manifest: deleted with it.
  std::vector<std::string> also;
};

struct RegistryPruneReport {
  std::string repository;  ///< "host/path" as reached
  std::vector<RegistryItem> items;
  /// The registry answered a delete with 405, 400 or 403: it does not allow deletes (or the
  /// credential may not delete). The prune stopped there.
  bool deletes_refused = false;
};

struct RegistryPruneOptions {
  std::string ref;     ///< REPO[:TAG], as for --cache-to type=registry,ref=
  PruneLimits limits;  ///< keep_storage is not used: a registry's sizes are not ours to count
  bool dry_run = false;
  registry::RegistryOptions registry;
};

/// Prunes a registry cache. Throws mkimg::Error when the ref is not a repository, or the
/// registry cannot be reached or answers wrongly; a refused delete is reported, not thrown.
RegistryPruneReport prune_registry(const RegistryPruneOptions& options);

}  // namespace mkimg::cache
