// Unpacked layers under <root>/layers/<chain id hex>: each directory holds one layer in
// overlay form (whiteouts as 0/0 devices), so an image's stack mounts as overlay lowerdirs.
// A layer may instead be a stack, <root>/layers/<chain id hex>.stack/: `delta/` holds only what
// differs from the whole layer directory named in `below` (a chain id hex), changed files and
// whiteouts, and mounts above it: a COPY rebuilt after one changed file records one file, not a
// link per unchanged file, and its next rebuild's delta goes on the same whole directory (two
// directories deep; layer_dirs reads older, deeper stacks up to kMaxStack).
// A step's upper directory becomes its layer's directory (PendingLayers: at the end of the
// build, after one sync); a layer without one (a base image's, a cached step's whose directory
// was pruned, a COPY written straight into its blob) is unpacked from its blob (verified
// against its diff id) the first time a step needs it. `mkimg prune`
// removes the directories no stored image needs (prune_layers, under the store's gc lock).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "oci/descriptor.h"
#include "oci/image.h"

namespace mkimg::oci {
class Store;
}

namespace mkimg::snapshot {

/// OCI chain id: the first layer's diff id, then sha256("<parent chain> <diff id>").
std::string chain_id(const std::string& parent_chain, const std::string& diff_id);

/// The chain ids of every layer of a config's rootfs, bottom first.
std::vector<std::string> chain_ids(const oci::ImageConfig& config);

/// <root>/layers/<hex of chain>.
std::filesystem::path layer_dir(const oci::Store& store, const std::string& chain);

/// The chain id ("sha256:<hex>") of the whole layer directory `dir` (<root>/layers/<hex>, as
/// layer_dir() names it): the bottom of a layer's directories (layer_dirs), the one a new delta is
/// stacked on. Throws mkimg::Error when `dir` is not named so.
std::string layer_dir_chain(const std::filesystem::path& dir);

/// The most directories one layer's stack may have when read (a delta over a delta ... over a
/// whole one). New deltas go directly on the whole directory (snapshot/spec_tree.h
/// materialize_delta), so only stores of older builds hold deeper stacks.
constexpr std::size_t kMaxStack = 8;

/// The directories layer `chain` is made of, bottom first: its directory, or its stack's; empty
/// when it is not unpacked (or its stack is broken: a `below` that is gone or too deep).
std::vector<std::filesystem::path> layer_dirs(const oci::Store& store, const std::string& chain);

/// The diff_id of a layer blob (its uncompressed bytes hashed), read within the apply
/// limits; throws mkimg::Error on a corrupt or oversized blob.
std::string blob_diff_id(const std::filesystem::path& blob);

/// The unpacked directories of `layer` (diff id `diff_id`, chain `chain`; layer_dirs), unpacking
/// the blob from the store when there are none yet; an unpack stops with "interrupted" when
/// `keep_going` (ApplyLimits::keep_going) says so, and leaves nothing.
std::vector<std::filesystem::path> ensure_unpacked(const oci::Store& store,
                                                   const oci::Descriptor& layer,
                                                   const std::string& diff_id,
                                                   const std::string& chain,
                                                   const std::function<bool()>& keep_going = {});

class PendingLayers;

/// Above this many entries in all, PendingLayers::record syncs with one syncfs.
constexpr std::size_t kFsyncEachUpTo = 64;

/// What PendingLayers::record fsyncs to put `dirs` on disk: each directory (`dirs` too) and
/// regular file, as (one of `dirs`, path in it; "" for itself), when there are kFsyncEachUpTo
/// or fewer (the other types live in their directory's blocks); nullopt when there are more
/// and one syncfs of the file system costs less. A syncfs also waits for every other dirty file
/// of the file system (the gigabyte another build just wrote), so a step that wrote a file or
/// two (a one-line RUN) has them fsynced each. Follows no symlink.
std::optional<std::vector<std::pair<std::filesystem::path, std::string>>> entries_to_fsync(
    const std::vector<std::filesystem::path>& dirs);

/// The unpacked directories of every layer of an image, bottom first (a stacked layer gives
/// each directory of its stack): a layer `pending` holds (a step of the running build made it)
/// is taken from there, the others are unpacked (as ensure_unpacked, with `keep_going`).
std::vector<std::filesystem::path> ensure_image_unpacked(
    const oci::Store& store, const oci::ImageConfig& config,
    const std::vector<oci::Descriptor>& layers, const PendingLayers* pending = nullptr,
    const std::function<bool()>& keep_going = {});

/// The upper directories of a build's finished steps, kept in <root>/tmp and used as those
/// layers' directories by the build's later steps; record() puts their files on disk (one
/// syncfs, or an fsync of each directory and file when they hold 64 entries or fewer: a syncfs
/// also waits for every other dirty file of the file system) and moves them to
/// <root>/layers/<chain id> (docs/security.md 21: a layer directory is recorded only once its
/// files are on disk). One sync per build instead of one per step; a build killed
/// before record() leaves them in tmp/, removed on the next start, and the layers are unpacked
/// from their blobs when needed. Safe to use from several threads.
class PendingLayers {
 public:
  explicit PendingLayers(const oci::Store& store) : store_(store) {}
  PendingLayers(const PendingLayers&) = delete;
  PendingLayers& operator=(const PendingLayers&) = delete;
  /// Records what is pending (errors are logged: the layers are only not kept then).
  ~PendingLayers();

  /// Takes a finished step's upper directory (moved into tmp/ under a name of its own) as the
  /// directory of layer `chain`; with `below` (a chain id whose directories the store has),
  /// as the delta of a stack over that layer.
  void add(const std::filesystem::path& upper, const std::string& chain,
           const std::string& below = "");
  /// The directories of layer `chain` (bottom first) when this build made it and has not
  /// recorded it yet.
  std::optional<std::vector<std::filesystem::path>> find(const std::string& chain) const;
  /// Puts their files on disk (see above) and moves every pending directory to its layer directory
  /// (or removes it when another build got there first).
  void record();

 private:
  const oci::Store& store_;
  mutable std::mutex mutex_;
  struct Pending {
    std::filesystem::path dir;  ///< in tmp/: the layer's directory, or its stack's
    bool stack = false;         ///< dir holds delta/ and below
  };
  std::map<std::string, Pending> dirs_;  // chain id -> directory in tmp/
};

/// What prune_layers() removed.
struct LayerPruneResult {
  std::size_t layers_removed = 0;  ///< directories under <root>/layers
  std::int64_t bytes_removed = 0;  ///< sizes of the files in them (each inode once)
};

/// Removes every entry of <root>/layers that no image of index.json needs (the chain ids of
/// its config; every platform of an index, and the layers a needed stack is stacked on),
/// including leftovers of killed unpacks and a needed layer's stack that is not used (what it
/// was stacked on is gone, or the whole directory was unpacked beside it). Each
/// directory is renamed into tmp/ before it is deleted, so a killed prune never leaves half a
/// layer under its name. Call it only under the store lock held exclusive
/// (oci::GcOptions::while_exclusive): a build or `mkimg run` holds the store open from start to
/// end, so no running one can lose a directory it uses.
LayerPruneResult prune_layers(const oci::Store& store);

/// Lower directories for an overlay: `unpacked` reversed (topmost first).
std::vector<std::filesystem::path> overlay_lowers(
    const std::vector<std::filesystem::path>& unpacked);

}  // namespace mkimg::snapshot
