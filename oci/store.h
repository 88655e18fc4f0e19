// oci/: the image format and where images live.
//
// A newcomer's map of the folder:
//   digest.h       Digest (validated before it can become a path), streaming Sha256 (OpenSSL),
//                  hex_encode (the one hex encoder)
//   media_types.h  OCI and Docker v2 media type constants and predicates
//   descriptor.h   Descriptor, Platform
//   image.h        Manifest, Index, ImageConfig: canonical to_json, strict parse_*
//   reference.h    image references as users write them, docker.io/library/ normalisation
//   store.h        Store: the content store, an OCI image layout with tags (this file)
//   transport.h    ImageSource (oci:, oci-archive:, docker-archive:, registries plug in) and
//                  pull(): copy an image into the store, verifying every digest;
//                  read_source_image(): its manifest and config read in place
//   archive.h      save to a docker-archive or an oci-archive; load either
// The registry client is not here: registry/ (registry/registry.h) plugs into transport.h.
//
// The store, under <root> (every directory 0700, docs/security.md 9):
//   <root>/oci/      an OCI image layout: oci-layout, index.json, blobs/<alg>/<hex>. skopeo,
//                    umoci and oci-image-tool read it directly.
//   <root>/layers/   unpacked layers (owned by snapshot/ and builder/; pruned under gc's lock)
//   <root>/cache/    the step cache index and the context hash memos (owned by builder/)
//   <root>/tmp/      ingest files and work directories; emptied when a Store opens to write
//                    and no other process has the store open (OpenOptions::clear_leftovers
//                    first); a Store opened only to read writes nothing into the store
//   <root>/lock      the store-wide lock: every open Store holds it shared; gc() takes it
//                    exclusive, so GC never races a writer that has not tagged its blobs yet,
//                    nor a build using unpacked layers (a build holds its Store to the end)
//   <root>/index.lock  serialises read-modify-write of index.json across processes
//   <root>/locks/    lock files that must outlive the process that took them (children it
//                    passed the lock to hold it after it is killed): never emptied
//
// Blobs: written to a file in tmp/, fsynced, size and digest checked, renamed to
// blobs/<alg>/<hex> (docs/security.md 21). A blob file is therefore always complete and always
// matches its name. The rename is made durable by one fsync of blobs/<alg>/ just before
// index.json is replaced (sync_blob_dirs), not by one per blob: the index is what names blobs
// for good; anything else that names one (a cache entry, a COPY recall record) is used only
// when the blob is there. index.json is rewritten the same way (temp file, fsync, rename,
// fsync of oci/) while holding index.lock, so concurrent taggers never lose each other's tags
// and a killed process never leaves a torn index; a change that leaves its bytes as they were
// (a tag set again to the image it names) writes nothing.
//
// Tags: each tagged manifest is an entry of index.json with the annotation
// org.opencontainers.image.ref.name set to the FAMILIAR form of the normalised reference
// ("app:v1", "team/app:v1", "ghcr.io/x/y:1"; docker.io/library/ is dropped). The familiar form
// is a one-to-one spelling of the normalised reference, and it is what skopeo and umoci match
// literally: `skopeo inspect oci:<root>/oci:app:v1` and `umoci ... --image <root>/oci:app:v1`
// work. (The full form would force users to type oci:<root>/oci:docker.io/library/app:v1.)
// An index.json entry without the annotation is an untagged image (kept until `prune`).
// Image ids are config digests, as in Docker.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "common/fd.h"
#include "oci/descriptor.h"
#include "oci/digest.h"
#include "oci/image.h"
#include "oci/reference.h"

namespace mkimg::oci {

class Store;

/// What a committed blob must be; unset fields are not checked.
struct BlobExpectation {
  std::optional<Digest> digest;
  std::optional<std::int64_t> size;
};

/// What commit_file() checks itself. kRehash: it hashes the file again and fsyncs it.
/// kTrustWriter: its writer computed the digest and flushed the file (snapshot::CompressedSink
/// does both, on the thread that wrote it), so neither is done twice.
enum class Verification { kRehash, kTrustWriter };

/// Streams one blob into <root>/tmp while hashing it; commit() moves it into place. A writer
/// destroyed without commit() removes its temp file.
class BlobWriter {
 public:
  BlobWriter(BlobWriter&&) noexcept;
  BlobWriter& operator=(BlobWriter&&) noexcept;
  BlobWriter(const BlobWriter&) = delete;
  BlobWriter& operator=(const BlobWriter&) = delete;
  ~BlobWriter();

  void write(const void* data, std::size_t size);
  void write(std::string_view bytes) { write(bytes.data(), bytes.size()); }
  std::int64_t size() const { return size_; }
  /// fsyncs, checks `expected`, renames into blobs/ (durable with the next index.json). Returns the
  /// descriptor (media type as given). Throws mkimg::Error ("commit blob `digest`: ...") on a
  /// mismatch, leaving the store without the blob.
  Descriptor commit(std::string_view media_type, const BlobExpectation& expected = {});

 private:
  friend class Store;
  BlobWriter(const Store& store, DigestAlgorithm algorithm);
  void flush();

  const Store* store_ = nullptr;
  std::filesystem::path path_;
  UniqueFd fd_;
  Hasher hasher_;
  std::string buffer_;
  std::int64_t size_ = 0;
};

/// One tag of the store: a reference and the manifest (or index) it names.
struct TaggedImage {
  std::optional<Reference> reference;  ///< nullopt for an untagged index.json entry
  Descriptor manifest;
};

/// What gc() removed.
struct GcResult {
  std::size_t blobs_removed = 0;
  std::int64_t bytes_removed = 0;
};

/// Extra roots for gc(): blobs other components still need (cache index entries), and work
/// other components do under gc's exclusive lock.
struct GcOptions {
  std::vector<Digest> keep;
  /// Called when another process has the store open, before gc waits for it to close it.
  std::function<void()> on_wait;
  /// Called after the blobs are collected while the store lock is still held exclusive, so no
  /// other process has the store open (builder/ prunes <root>/layers here).
  std::function<void()> while_exclusive;
  /// Chooses what is collected instead of every unreached blob: called under the exclusive
  /// lock with the blobs index.json and `keep` reach, it returns the blobs to remove (gc
  /// removes those of them that are not reached). `mkimg cache prune` drops step cache
  /// entries here and returns the layers only they used.
  std::function<std::vector<Digest>(const std::unordered_set<Digest>& reached)> choose;
};

/// How a command opens the store.
struct OpenOptions {
  /// Only to read: a store that exists is opened without writing anything into it (no lock
  /// file made, tmp/ left alone), so `images`, `inspect`, `history` and `save` work on a
  /// read-only store or one the user may only read. A missing store is created as usual.
  bool read_only = false;
  /// Called while no other process has the store open, before tmp/ is emptied (at open and
  /// by gc): clears what a killed process left there besides files (runtime/: its containers
  /// and mounts).
  std::function<void(const std::filesystem::path& tmp)> clear_leftovers;
};

/// The content store: an OCI image layout with tags, under one root directory. Holds the
/// store-wide lock shared while open. Methods are safe across processes; one Store object
/// is not meant to be shared between threads without external locking.
class Store {
 public:
  /// Opens the store at `root`, creating the layout when missing (dirs 0700), and removes
  /// leftovers in tmp/ when no other process has the store open. Throws mkimg::Error.
  static Store open(const std::filesystem::path& root, const OpenOptions& options = {});

  Store(Store&&) noexcept = default;
  Store& operator=(Store&&) noexcept = default;

  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path layout_dir() const { return root_ / "oci"; }
  std::filesystem::path tmp_dir() const { return root_ / "tmp"; }
  std::filesystem::path layers_dir() const { return root_ / "layers"; }
  std::filesystem::path cache_dir() const { return cache_dir_at(root_); }
  /// The cache directory of the store at `root` (opened or not).
  static std::filesystem::path cache_dir_at(const std::filesystem::path& root) {
    return root / "cache";
  }
  /// Lock files that outlive their taker (made by their users, 0700; never emptied, unlike
  /// tmp/: a flock on a file that was removed and made again locks nothing).
  std::filesystem::path locks_dir() const { return root_ / "locks"; }

  // Blobs.
  bool has_blob(const Digest& digest) const;
  /// blobs/<alg>/<hex>; throws for an empty digest. The file may not exist.
  std::filesystem::path blob_path(const Digest& digest) const;
  /// The blob's size; nullopt when absent.
  std::optional<std::int64_t> blob_size(const Digest& digest) const;
  /// Reads a whole blob; throws when absent or larger than `max_size`.
  std::string read_blob(const Digest& digest, std::size_t max_size = kMaxDocumentSize) const;
  /// Opens a blob for reading (O_RDONLY|O_CLOEXEC); throws when absent.
  UniqueFd open_blob(const Digest& digest) const;
  /// A writer streaming into tmp/. Hashes with `algorithm` (sha256 unless an expected sha512).
  BlobWriter begin_blob(DigestAlgorithm algorithm = DigestAlgorithm::kSha256) const;
  /// Writes a whole blob (no-op when present) and returns its descriptor.
  Descriptor put_blob(std::string_view bytes, std::string_view media_type,
                      const BlobExpectation& expected = {}) const;
  /// Moves `file` (which must be inside tmp_dir()) into blobs/ as `expected`: check size and,
  /// with Verification::kRehash, digest and fsync; rename (durable with the next index.json:
  /// see the top of this file). When the blob
  /// is already present the file is removed. Returns the blob's size.
  std::int64_t commit_file(const std::filesystem::path& file, const Digest& expected,
                           Verification verification = Verification::kRehash) const;
  /// Puts a blob of the store into the OCI image layout at `layout_dir`
  /// (blobs/<alg>/<hex>): a hard link when both are on one file system, else a copy; a no-op
  /// when the layout has it. Throws when the store lacks it.
  void export_blob(const Digest& digest, const std::filesystem::path& layout_dir) const;
  /// A new unique path in tmp_dir() for a file or directory another component writes.
  std::filesystem::path temp_path(std::string_view prefix) const;

  // Tags (index.json).
  /// Points `reference` at `manifest`, replacing any previous target of that tag.
  void tag(const Reference& reference, const Descriptor& manifest) const;
  /// Adds `manifest` as an untagged entry (if it is not already in index.json).
  void add_untagged(const Descriptor& manifest) const;
  /// Removes the tag; returns false when it did not exist.
  bool untag(const Reference& reference) const;
  /// Removes every index.json entry (tagged or not) for `manifest`; returns how many.
  std::size_t remove_manifest(const Digest& manifest) const;
  /// Every index.json entry, in file order.
  std::vector<TaggedImage> list() const;
  /// Finds a manifest by tag ("app:v1", "docker.io/library/app"), manifest digest
  /// ("sha256:..."; also one platform's manifest listed by a stored index), name@digest, or image
  /// id (config digest, full or a prefix of >= 4 hex digits, optionally "sha256:"-prefixed; unique
  /// among stored images). nullopt when nothing matches; throws mkimg::Error when an id prefix is
  /// ambiguous.
  std::optional<Descriptor> resolve(std::string_view name) const;

  // Garbage collection.
  /// Takes the store lock exclusive (waiting for other processes to close the store), then
  /// removes blobs not reachable from index.json or `options.keep` (or those
  /// `options.choose` returns), and everything in tmp/, then runs `options.while_exclusive`.
  GcResult gc(const GcOptions& options = {}) const;
  /// The blobs index.json and `keep` reach: every listed manifest or index, what an index
  /// lists, and a manifest's config and layers. What gc() keeps.
  std::unordered_set<Digest> reached(const std::vector<Digest>& keep = {}) const;

 private:
  explicit Store(std::filesystem::path root) : root_(std::move(root)) {}

  /// Opens an existing store without writing into it (OpenOptions::read_only).
  static Store open_to_read(const std::filesystem::path& root);
  /// Empties tmp/; the caller holds the store lock exclusive.
  void clear_tmp() const;

  std::filesystem::path root_;
  UniqueFd store_lock_;
  std::function<void(const std::filesystem::path& tmp)> clear_leftovers_;
};

/// An image loaded from the store: its manifest (chosen for a platform, by default the host's,
/// when the name points to an index), the manifest's descriptor, and the parsed config.
struct Image {
  Descriptor manifest_descriptor;
  Manifest manifest;
  ImageConfig config;
};

/// Loads the image `name` (anything Store::resolve accepts); for an index, the manifest for
/// `platform` (default: the host's). Throws mkimg::Error ("load image `name`: ...") when absent,
/// malformed, or when the index lists no such platform or the store lacks its manifest.
Image load_image(const Store& store, std::string_view name,
                 const std::optional<Platform>& platform = std::nullopt);
/// Loads the image a manifest (or index) descriptor names.
Image load_image(const Store& store, const Descriptor& descriptor,
                 const std::optional<Platform>& platform = std::nullopt);

/// Adds to `out` every blob the manifest or index `top` reaches that the store can say: `top`
/// itself, what an index lists (recursively), a manifest's config and layers. The blobs of an
/// index's platforms the store never got are named but not followed.
void image_blobs(const Store& store, const Descriptor& top, std::set<Digest>& out);

/// Whether write_image insists on having every layer blob.
enum class LayerBlobs {
  kInStore,   ///< every layer blob is in the store (an image to tag)
  kAnywhere,  ///< some are elsewhere (an image only pushed, its layers mounted from a cache)
};

/// Writes `config` and an OCI manifest over `layers` (blobs the store already has, unless
/// `blobs` is kAnywhere), canonically, and returns the manifest's descriptor. Does not tag.
Descriptor write_image(const Store& store, const ImageConfig& config,
                       const std::vector<Descriptor>& layers,
                       const std::map<std::string, std::string>& annotations = {},
                       LayerBlobs blobs = LayerBlobs::kInStore);

}  // namespace mkimg::oci
