// What a COPY written straight into its layer leaves for its next run after a cache miss
// (one changed source file): <root>/cache/copy-recall/<hex of the recall key>, keyed by the
// instruction and where it reads from, not by the content. It names the layer it made (blob
// and chain id), the blob's gzip members (the SHA-256 of each one's uncompressed bytes, where
// it is in the blob and in the tar, the diff_id's hash state after it) and each entry's
// fingerprint (snapshot::entry_fingerprint: metadata and content digest) with where its bytes
// are in the tar. The next run takes the unchanged entries' bytes from that blob without
// reading their sources, copies the members whose bytes did not change instead of compressing
// them again (the first ones without even decompressing them: the diff_id goes on from the
// hash state after them), and on disk makes only the delta over the whole directory at the
// bottom of that layer's (snapshot::materialize_delta, stacked on it), or, when more than half
// changed, hardlinks the unchanged files from that layer's directories instead of writing them
// (snapshot::EarlierLayer, snapshot::SharedFiles). Only speed depends
// on it: the record carries its own checksum (it alone vouches for the hash states), the blob
// is checked against its digest before any of it is used, every linked file's metadata against
// the new entry, and a missing, stale or damaged record only means the work is done again.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "snapshot/layer_writer.h"
#include "snapshot/spec_tree.h"

namespace mkimg::oci {
class Store;
}

namespace mkimg::builder {

/// A COPY's layer as its next run can use it.
struct CopyRecall {
  std::string text;         ///< the record as read: layer.entries' keys view it
  std::string blob_digest;  ///< "sha256:..." of the layer blob
  std::string chain;        ///< the layer's chain id (its directory, when it has one)
  /// `blob` is filled by load_copy_recall when the store has it.
  snapshot::EarlierLayer layer;
  /// The layer's directories (snapshot::layer_dirs: one, or a stack) when the store has them;
  /// its files are layer.entries.
  std::vector<std::filesystem::path> dirs;

  CopyRecall() = default;
  CopyRecall(CopyRecall&&) = default;  // moved, `text` keeps its bytes where the keys view them
  CopyRecall& operator=(CopyRecall&&) = default;
  CopyRecall(const CopyRecall&) = delete;
  CopyRecall& operator=(const CopyRecall&) = delete;
};

/// The record for `key` (an opaque string naming the instruction and its source) with the
/// blob's path and the layer directory filled in; nullopt when there is none or it is unusable.
std::optional<CopyRecall> load_copy_recall(const oci::Store& store, const std::string& key);

/// Records what a COPY made for `key`: the blob (with members and entries indexed, written
/// with `source_date_epoch`), its chain id, and its entries but those whose source `changed`
/// while they were written. Errors are logged only.
void save_copy_recall(const oci::Store& store, const std::string& key,
                      const snapshot::LayerBlob& blob, const std::string& chain,
                      std::optional<int64_t> source_date_epoch,
                      const std::vector<std::string>& changed);

/// Removes the records whose blob is no longer in the store (`mkimg prune`, after its gc);
/// returns how many.
std::size_t prune_copy_recalls(const oci::Store& store);

}  // namespace mkimg::builder
