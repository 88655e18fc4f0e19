// cache/: the step cache. A map:
//
//   cache_key.h       a step's key: sha256 over the parent's key and the step's named parts
//   cache_index.h     the store's own cache (this file): key -> the layer the step made
//   cache_location.h  --cache-to / --cache-from values: a registry, a local layout, inline
//   shared_cache.h    sharing entries through a registry or a directory: the artifact format,
//                     lookups (verified, a bad entry is a miss), exports
//   prune.h           `mkimg cache prune`: the store's entries, their layer blobs and the cache
//                     mounts by last use and size; a registry cache's entries and mounts by age
//
// The step cache index under <root>/cache: key -> what the step produced (a layer blob and
// its diff id, or nothing for a step that changed no file). Entries are JSON files written
// atomically (temp, rename) under a cross-process lock, so several builds can share a store
// (RELIABILITY 22). They are not flushed to disk: one that a power cut tore does not parse and
// is a miss, and a hit is used only when its layer blob is in the store (blobs are flushed). Each
// entry also records the digests of its key's parts, so a miss can name what changed compared with
// the last entry built on the same parent; they are kept beside the entry (steps/<hex>.parts: one
// per file a COPY reads, or one per directory for a COPY of more than 1,000 files, cache_key.h
// part_digests) and read only to explain a miss, so a cache hit parses a few hundred bytes however
// large the COPY (an entry written with its parts inside, by an earlier version, is split by its
// first hit).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cache/cache_key.h"

namespace mkimg::cache {

/// What a cached step produced.
struct CacheEntry {
  std::string key;
  std::string layer_digest;  ///< "" when the step made no layer
  std::string layer_media_type;
  long long layer_size = 0;
  std::string diff_id;
  std::string created;                ///< RFC 3339 time the step first ran
  std::vector<KeyPart> part_digests;  ///< name -> digest of the value
  /// For an entry under a step's alias key (layer_step.h): the step's own key, which the stage's
  /// key chain continues from. Empty for an entry under the step's own key.
  std::string chain_key;
};

/// An entry's files as they lie in steps/ (what prune.h weighs).
struct StoredEntry {
  std::string key;              ///< "sha256:<hex>", from the file names
  std::string layer_digest;     ///< "" when the step made none or the entry cannot be read
  std::int64_t file_bytes = 0;  ///< the entry, its parts and any temp file a killed write left
  std::int64_t last_used = 0;   ///< unix seconds: the entry file's mtime (see find())
};

/// An entry with its parts as one JSON document: what a shared cache stores per key
/// (shared_cache.h). Names that are not UTF-8 are written with U+FFFD.
std::string entry_document(const CacheEntry& entry);
/// The entry in such a document; throws mkimg::Error when it is not one.
CacheEntry parse_entry_document(std::string_view text);

/// The cache directory of one store.
class CacheIndex {
 public:
  explicit CacheIndex(std::filesystem::path dir);

  /// The entry for `key`, or nullopt. Its part_digests may be left out (explain_miss reads
  /// them). Finding an entry marks it used (prune.h mark_used: its file's mtime, at most once
  /// an hour).
  std::optional<CacheEntry> find(const std::string& key) const;
  /// Records an entry (replacing any previous one for the same key) and remembers it as the
  /// latest child of `parent` for explanations.
  void put(const std::string& parent, const CacheEntry& entry) const;
  /// Why `key` missed: the names of the parts that differ from the last entry recorded on the
  /// same parent, twenty at most and a count of the rest ("no earlier build on this parent"
  /// when there is none).
  std::string explain_miss(const StepKey& key) const;
  /// The part digests recorded for `key` (none when they were not kept).
  std::vector<KeyPart> parts(const std::string& key) const;
  /// Every layer digest the index refers to (roots for the store's gc).
  std::vector<std::string> layer_digests() const;
  /// Every entry in steps/, also a damaged one or parts left without their entry.
  std::vector<StoredEntry> stored() const;
  /// Removes the files of the entries `keys`, then every children/ record naming an entry
  /// that is gone. Under the cross-process lock.
  void remove(const std::vector<std::string>& keys) const;

 private:
  std::filesystem::path entry_path(const std::string& key) const;
  std::filesystem::path parts_path(const std::string& key) const;
  std::filesystem::path dir_;
};

}  // namespace mkimg::cache
