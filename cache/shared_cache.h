// Sharing step cache entries between stores: through a registry repository or an OCI image
// layout directory (docs/cache.md "Sharing the cache").
//
// One artifact per key, immutable: an OCI image manifest whose config (media type
// kEntryMediaType) is the entry document (cache_index.h: key, layer digest, diff_id, created,
// the parts that explain a miss) and whose one layer, if the step made one, is the layer
// blob. It is tagged by the key ("sha256-<hex>"). A writer does not replace a tag that exists,
// and the same entry written twice is the same digest. Two writers of one key at the same
// instant both succeed (registries have no conditional PUT) and the later tag stays; every
// artifact is whole, so a reader gets one writer's entry or the other's. Inline cache: the entries
// of an image's own layers in an annotation of its manifest.
//
// Nothing read is trusted: the manifest, the entry document and the layer are checked by
// digest, the entry must name the key asked for and the layer the manifest names; anything
// wrong is a miss with a warning. A source that cannot be reached is a warning and is not asked
// again in the same build.
#pragma once

#include <cstddef>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "cache/cache_index.h"
#include "cache/cache_location.h"
#include "oci/descriptor.h"
#include "registry/options.h"

namespace mkimg::oci {
class Store;
}  // namespace mkimg::oci

namespace mkimg::cache {

inline constexpr std::string_view kEntryMediaType = "application/vnd.mkimg.cache.entry.v1+json";
/// Entry documents are small: a few hundred bytes, plus one part per file a COPY read.
inline constexpr std::size_t kMaxEntryDocument = 4 * 1024 * 1024;
/// The manifest annotation of an image built with --cache-to type=inline: a JSON array of the
/// entry documents of the image's layer steps.
inline constexpr std::string_view kInlineAnnotation = "dev.mkimg.cache.v1";

/// The config media type of a cache mount's artifact (cache-mounts=true).
inline constexpr std::string_view kMountMediaType = "application/vnd.mkimg.cache.mount.v1+json";

/// A `RUN --mount=type=cache` directory as shared: one artifact per id, tagged mount_tag(); its
/// config is {"id", "diff_id", "created"}, its one layer the directory's files as a tar. Unlike
/// a step entry it is mutable: the last writer's content stays, as in a local cache mount.
struct MountArtifact {
  std::string id;
  oci::Descriptor layer;
  std::string diff_id;
  std::string created;
};

/// Receives a warning: a source that cannot be reached, an entry refused.
using Warn = std::function<void(const std::string&)>;

/// A hit in a shared cache: the entry, checked against the key and its artifact. Its layer is
/// not downloaded until fetch_layer() (a hit whose bytes nothing needs moves no layer).
struct SharedHit {
  CacheEntry entry;
  std::string source;        ///< the location as given, for messages
  std::size_t source_index;  ///< which --cache-from source
};

/// The `--cache-from` sources of one build, asked in order. Safe to use from several threads.
class SharedCacheReader {
 public:
  SharedCacheReader(const oci::Store& store, std::vector<CacheLocation> sources,
                    registry::RegistryOptions options, Warn warn);
  ~SharedCacheReader();
  SharedCacheReader(const SharedCacheReader&) = delete;
  SharedCacheReader& operator=(const SharedCacheReader&) = delete;

  /// The entry for `key` from the first source that has a good one, or nullopt.
  std::optional<SharedHit> find(const std::string& key);
  /// find() of several keys at once: each source is asked for every key not found yet, a few
  /// requests at a time. result[i] answers keys[i].
  std::vector<std::optional<SharedHit>> find_many(const std::vector<std::string>& keys);
  /// Downloads the layer blob of `hit` into the store, digest and size checked. Throws
  /// mkimg::Error naming the source and the entry when it cannot; the entry is refused from
  /// then on (a source that stopped answering is not asked again).
  void fetch_layer(const SharedHit& hit);
  /// The cache mount `id` from the first source read with cache-mounts=true that has it, its
  /// layer downloaded into the store (digest and size checked); nullopt when none has it. A
  /// bad artifact or a source that cannot be reached is a warning.
  std::optional<MountArtifact> find_mount(const std::string& id);
  /// Why `key` was not found, source by source, for --explain: "SRC: no entry", "SRC: entry
  /// refused", "SRC: cannot be reached".
  std::string why_missed(const std::string& key);
  /// Refuses the entry of `hit` for the rest of this reader's life: a later find() of its key
  /// does not return it. Warns with `why`.
  void refuse(const SharedHit& hit, const std::string& why);
  /// The registry repository (`host/path`) that serves the layer of `hit`, for a
  /// cross-repository mount; nullopt for a local source.
  std::optional<std::string> layer_repository(const SharedHit& hit) const;

 private:
  struct Source;
  /// Opens `source` at its first use; false when it cannot be read (warned once).
  bool open(Source& source);
  /// Marks `source` dead after a transport error (warned once).
  void stop_using(Source& source, const std::exception& e);
  bool refused(std::size_t source, const std::string& key);
  const oci::Store& store_;
  registry::RegistryOptions options_;
  Warn warn_;
  std::vector<std::unique_ptr<Source>> sources_;
  std::mutex refused_mutex_;
  std::set<std::pair<std::size_t, std::string>> refused_;  ///< (source, key)
};

/// What an export did.
struct ExportReport {
  int entries = 0;     ///< asked to write
  int written = 0;     ///< new tags
  int present = 0;     ///< already there (same key written before)
  int blobs_sent = 0;  ///< layer blobs uploaded or copied
};

/// Writes `entries` (their layer blobs are in `store`) to a registry or local location.
/// Throws mkimg::Error naming the location when it cannot.
ExportReport export_entries(const oci::Store& store, const CacheLocation& to,
                            const std::vector<CacheEntry>& entries,
                            const registry::RegistryOptions& options);

/// Writes the cache mount `mount`, whose layer blob is the file `layer_file`, to `to`, replacing
/// what an earlier build wrote for the same id. Throws mkimg::Error naming the location.
void export_mount(const CacheLocation& to, const MountArtifact& mount,
                  const std::filesystem::path& layer_file,
                  const registry::RegistryOptions& options);

/// The value of kInlineAnnotation for an image whose layer steps made `entries`.
std::string inline_annotation(const std::vector<CacheEntry>& entries);

}  // namespace mkimg::cache
