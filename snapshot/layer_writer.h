// The deterministic layer writer: a sorted list of entries from one directory -> a tar blob,
// with its diff_id and blob digest computed in the same pass. See snapshot.h.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "oci/media_types.h"

namespace mkimg {
class Background;
}

namespace mkimg::snapshot {

namespace fs = std::filesystem;

/// How a layer blob is compressed: the one enum of oci/media_types.h.
using Compression = oci::media_type::Compression;

/// One gzip member of a layer blob: the digest ("sha256:<hex>") of its uncompressed bytes,
/// where its compressed bytes are in the blob and where its uncompressed bytes start in the
/// tar, and the diff_id's SHA-256 state after them (oci::ResumableSha256::mid_state(); "" when
/// unknown).
struct BlobMember {
  std::string hash;
  int64_t offset = 0;
  int64_t size = 0;
  int64_t tar_offset = 0;
  std::string tar_state;
};

/// Where an entry of an earlier spec layer is in that layer's tar (header, content and
/// padding), and its fingerprint (SpecEntry::fingerprint).
struct EarlierEntry {
  std::string fingerprint;
  int64_t tar_offset = 0;
  int64_t tar_size = 0;
};
/// An earlier layer's entries in the order its record lists them (layer order), found by path.
/// The paths view strings their owner keeps (a COPY's recall record, a LayerBlob's entries).
/// A new layer's entries come in layer order too and are mostly the earlier ones, so find()
/// with the caller's cursor first tries the entry after the last one it found: a COPY's
/// 100,000 unchanged entries are found without hashing a path or making an index. Any other
/// path is looked up in an index made the first time one is needed (once, under a lock: a
/// COPY's layer and its files look up the same entries at once). A path listed twice is
/// found as its first listing, by the index; by the cursor either listing may be.
class EarlierEntries {
 public:
  using Item = std::pair<std::string_view, EarlierEntry>;

  EarlierEntries() = default;
  /// Copied or moved, the entries go; the index is made again when needed.
  EarlierEntries(EarlierEntries&& other) noexcept : list_(std::move(other.list_)) {}
  EarlierEntries(const EarlierEntries& other) : list_(other.list_) {}
  EarlierEntries& operator=(EarlierEntries other) noexcept;

  void reserve(std::size_t count) { list_.reserve(count); }
  /// Adds the entry at `path`, after those added before (before any find()).
  void emplace(std::string_view path, EarlierEntry entry) {
    list_.emplace_back(path, std::move(entry));
  }
  std::size_t size() const { return list_.size(); }
  bool empty() const { return list_.empty(); }
  std::vector<Item>::const_iterator begin() const { return list_.begin(); }
  std::vector<Item>::const_iterator end() const { return list_.end(); }

  /// The entry at `path`, or nullptr. `cursor` (0 at first) is the caller's: where to look
  /// first, moved past the entry found.
  const EarlierEntry* find(std::string_view path, std::size_t& cursor) const;
  /// find() without a cursor.
  const EarlierEntry* find(std::string_view path) const {
    std::size_t cursor = list_.size();
    return find(path, cursor);
  }

 private:
  std::vector<Item> list_;
  mutable std::mutex mutex_;
  mutable std::atomic<bool> indexed_ = false;
  mutable std::unordered_map<std::string_view, std::size_t> index_;  ///< list_ by path
};

/// An earlier gzip blob a new layer may take bytes from instead of reading and compressing
/// them again. Used only when `format` is reuse_format() of the new layer (the same libarchive,
/// libdeflate and level give the same bytes). A new entry whose fingerprint `entries` holds
/// at its path with the same `source_date_epoch` takes that entry's tar bytes from the
/// earlier blob without reading its source; a gzip member whose bytes are exactly those of an
/// earlier member is copied as it is. Nothing is trusted unchecked: with its `digest` the
/// whole blob is hashed once before any of it is used (its compressed bytes: a few MB for
/// 100,000 small files), else every earlier member used is checked against its hash once
/// decompressed; any mismatch writes the layer again without the earlier blob, so the bytes
/// are always the ones a fresh write gives. With its `digest`, the new layer's first members
/// that are the earlier layer's first members are copied without decompressing them: the
/// diff_id goes on from the last one's `tar_state`.
struct EarlierLayer {
  fs::path blob;
  std::string digest;  ///< "sha256:..." of `blob`, or "" (each member is checked instead)
  std::string format;
  std::vector<BlobMember> members;  ///< in blob order, contiguous, with their tar offsets
  int64_t tar_size = 0;             ///< where the last member's bytes end in the tar
  std::optional<int64_t> source_date_epoch;
  EarlierEntries entries;  ///< by path
};

/// What makes a spec layer's tar and gzip bytes: "libarchive <version> libdeflate <version>
/// gzip <level> probe <hash>", the hash of what the library linked at run time makes of a
/// fixed input at that level.
std::string reuse_format(int level);

/// How to write a layer. The bytes depend on everything here except `threads`, `index_members`
/// and `earlier`.
struct LayerOptions {
  Compression compression = Compression::kGzip;
  /// When set, every mtime later than this is clamped to it (seconds since the epoch).
  std::optional<int64_t> source_date_epoch;
  /// Compression worker threads; 0 means one per core. Never changes the output bytes.
  int threads = 0;
  /// Compression level; 0 means the default (gzip 6, zstd 3).
  int level = 0;
  /// gzip: list the blob's members in LayerBlob::members and, for a spec layer, its entries in
  /// LayerBlob::written (for a later EarlierLayer).
  bool index_members = false;
  /// gzip: an earlier blob to take bytes from where they are the same (implies indexing).
  const EarlierLayer* earlier = nullptr;
  /// When given, asked before each entry and each MiB of a file's content: false stops the
  /// write with mkimg::Error "write layer `path`: interrupted" (the file is removed).
  std::function<bool()> keep_going;
};

/// A layer blob written to disk, and what the image manifest and config need to know of it.
struct LayerBlob {
  fs::path file;                    ///< the compressed (or plain) tar
  std::string digest;               ///< "sha256:..." of the file's bytes
  std::string diff_id;              ///< "sha256:..." of the uncompressed tar
  int64_t size = 0;                 ///< bytes in `file`
  int64_t tar_size = 0;             ///< bytes of the uncompressed tar
  int64_t entries = 0;              ///< tar entries written
  std::string media_type;           ///< application/vnd.oci.image.layer.v1.tar[+gzip|+zstd]
  std::vector<BlobMember> members;  ///< gzip with index_members or earlier: in blob order
  std::string member_format;        ///< reuse_format() of those members
  int64_t members_reused = 0;       ///< how many were copied from LayerOptions::earlier
  int64_t members_unread = 0;       ///< of those, the first ones, copied without decompressing them
  int64_t entries_reused = 0;       ///< spec entries whose bytes came from the earlier blob
  /// A spec layer with indexing: its entries (fingerprint "" where none), in layer order; the
  /// paths view those of the entries given to write_layer_spec(), which must outlive them.
  std::vector<std::pair<std::string_view, EarlierEntry>> written;
};

/// What a LayerEntry stands for.
enum class EntryKind {
  kTree,      ///< the file at `path` under the writer's source root, any type
  kWhiteout,  ///< an empty marker (`dir/.wh.name` or `dir/.wh..wh..opq`): mode 0, owner 0:0
};

/// One entry of a layer: its relative path ("etc/passwd", no leading "/" or "./", no trailing
/// "/", no "." or ".." components) and where its content comes from.
struct LayerEntry {
  std::string path;
  EntryKind kind = EntryKind::kTree;
  friend bool operator==(const LayerEntry&, const LayerEntry&) = default;
};

/// True when `a` sorts before `b` in a layer: component by component, bytewise, so a
/// directory is followed directly by its contents.
bool layer_path_less(const std::string& a, const std::string& b);

/// Loads, once per process, what writing the first header of a layer sets up on the way (about
/// 1.5 ms): the C.UTF-8 locale names are written under and the character conversion libarchive's
/// PAX writer opens. The first call runs it on `beside` (builder/layer_step.cpp: while a step's
/// container runs, so that the layer written after it does not wait for it); later calls do
/// nothing. Errors are ignored: the writer meets them again.
void prepare_layer_writing(Background& beside);

/// Writes `entries` (any order; sorted and de-duplicated here) read from `source_root` as a
/// layer to `out_file` (created or truncated; fsynced; removed again on failure). Files are
/// opened beneath `source_root` without following any symlink, and only regular files are
/// read. `out_file` should be a temporary path the caller commits (renames) afterwards.
LayerBlob write_layer(const fs::path& source_root, std::vector<LayerEntry> entries,
                      const fs::path& out_file, const LayerOptions& options);

/// Writes the whole tree under `root` (not `root` itself) as one layer: import and COPY.
LayerBlob write_layer_from_dir(const fs::path& root, const fs::path& out_file,
                               const LayerOptions& options);

/// Writes the whole tree under `root` (not `root` itself) as one uncompressed tar to `out` (a
/// file or a pipe; not closed, not synced), in the format of a layer: sorted, numeric owners,
/// mtimes clamped to `options.source_date_epoch`, hardlinks as hardlinks, kept xattrs
/// (`options.compression` is ignored). The tree is walked as it is written, so memory does not
/// grow with it. Returns the number of entries: `build --output type=tar`.
int64_t write_tar_from_dir(const fs::path& root, int out, const LayerOptions& options);

/// One entry of a layer given by value instead of read from a tree: COPY writes its layer
/// straight from its sources with this (no copy on disk first). The tar header is the one
/// write_layer() would write for a file with this metadata.
struct SpecEntry {
  std::string path;   ///< as LayerEntry::path
  unsigned mode = 0;  ///< file type and permission bits (st_mode)
  unsigned uid = 0;
  unsigned gid = 0;
  int64_t mtime = 0;        ///< seconds; clamped as usual
  int64_t mtime_nsec = 0;   ///< not in the layer; materialize_spec() sets it on disk
  std::string link_target;  ///< symlinks
  std::vector<std::pair<std::string, std::string>> xattrs;  ///< kept ones only, sorted
  /// Regular files: the content, either these bytes or the file `content_path` beneath the
  /// directory fd `content_root` (opened without following any symlink; its size is taken
  /// when it is read).
  std::optional<std::string> content;
  int content_root = -1;
  std::string content_path;
  /// Regular files with the same non-negative group are one inode: the first in layer order
  /// carries the content, the others are hardlinks to it.
  int64_t link_group = -1;
  /// Regular files: "sha256:..." of the content when known; not in the layer.
  std::string digest;
  /// entry_fingerprint() when fingerprint_entries() has run: lets a later layer take this
  /// entry's bytes (EarlierLayer) or file (materialize_spec) without reading its source.
  std::string fingerprint;
};

/// A digest of everything of `e` its tar bytes and its file on disk are made of (path, mode,
/// owner, mtime to the nanosecond, link target, xattrs, content digest): the first 15 bytes of
/// a SHA-256 (120 bits, held inside a std::string without an allocation: a COPY may have
/// 100,000 entries); "" for an entry that has none (a regular file without a digest, one of a
/// hardlink group).
std::string entry_fingerprint(const SpecEntry& e);

/// Sets `fingerprint` of every entry (on all cores: a COPY may have 100,000).
void fingerprint_entries(std::vector<SpecEntry>& entries);

/// The entries in layer order (layer_path_less). A COPY's planner gives them in that order
/// already, most of the time: then they are only checked, not sorted.
std::vector<const SpecEntry*> in_layer_order(const std::vector<SpecEntry>& entries);

/// Writes `entries` (any order; sorted here; paths must be unique) as a layer to `out_file`,
/// like write_layer().
LayerBlob write_layer_spec(const std::vector<SpecEntry>& entries, const fs::path& out_file,
                           const LayerOptions& options);

/// The xattrs a layer keeps (security.capability, user.*) of the regular file or directory
/// `fd`, sorted by name.
std::vector<std::pair<std::string, std::string>> layer_xattrs(int fd);

/// The media type of a layer with `compression`.
std::string layer_media_type(Compression compression);

}  // namespace mkimg::snapshot
