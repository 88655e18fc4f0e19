// Applying a layer blob (gzip, zstd or plain tar, detected from its first bytes) to a
// directory, treating the layer as hostile. See snapshot.h.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

namespace mkimg::snapshot {

namespace fs = std::filesystem;

/// Where a layer goes.
enum class ApplyMode {
  /// `dest` holds this layer only: OCI whiteouts become overlay whiteouts (0/0 character
  /// devices) and opaque markers `trusted.overlay.opaque=y`, so directories unpacked this way
  /// stack as overlay lowerdirs.
  kOverlayLower,
  /// `dest` is a whole tree the layer changes: whited-out paths are deleted, an opaque marker
  /// empties its directory of what lower layers put there.
  kFlatten,
};

/// The cap on one layer's uncompressed tar bytes that ApplyLimits starts from: 64 GiB, or what
/// set_max_layer_size() made it for this process (the command line sets it from
/// --max-layer-size or $MKIMG_MAX_LAYER_SIZE before any layer is read; docs/security.md 12).
int64_t max_layer_size();
/// Sets max_layer_size() for every ApplyLimits made afterwards; `bytes` must be positive.
void set_max_layer_size(int64_t bytes);

/// Caps on what one layer may make us do (docs/security.md 12). Exceeding one is an error.
struct ApplyLimits {
  int64_t max_entries = 1'000'000;
  int64_t max_total_bytes = max_layer_size();  ///< uncompressed tar bytes
  int64_t max_path_bytes = 4096;               ///< entry name and link target
  int64_t max_xattr_bytes = 1 << 20;           ///< all xattrs of one entry
  /// Uncompressed bytes may exceed `max_ratio` * compressed bytes only below this many.
  int64_t ratio_grace_bytes = int64_t{256} << 20;
  int64_t max_ratio = 2000;
  /// Asked before each 256 KiB of the blob is read (so between entries and within a large
  /// one): false stops the apply with "interrupted" (the builder and `mkimg run` pass the
  /// process's interrupt, runtime/cancel.h). Empty: the apply goes to the end.
  std::function<bool()> keep_going;
};

/// What was applied.
struct ApplyResult {
  std::string diff_id;  ///< "sha256:..." of the whole uncompressed stream
  int64_t tar_size = 0;
  int64_t entries = 0;
};

/// An owner every entry of a layer gets instead of the one its tar header names (the files
/// `build --output type=local` writes belong to the user who ran the build, as BuildKit's).
struct ApplyOwner {
  unsigned uid = 0;
  unsigned gid = 0;
};

/// Applies the layer in `blob` to `dest` (an existing directory). Throws mkimg::Error
/// ("apply layer `blob`: cause") on any refused entry or limit; `dest` may then hold part of
/// the layer (never anything outside `dest`), so apply into a directory you can throw away.
/// The caller compares ApplyResult::diff_id with the expected one. With `owner`, every entry
/// is owned by it (the header's uid and gid are still checked).
ApplyResult apply_layer(const fs::path& blob, const fs::path& dest, ApplyMode mode,
                        const ApplyLimits& limits = {},
                        const std::optional<ApplyOwner>& owner = std::nullopt);

/// Unpacks `blob` in overlay_lower mode into a fresh temporary sibling of `dest`, checks the
/// diff_id against `expected_diff_id` ("sha256:..."), syncs the file system, and only then
/// renames it to `dest` (which must not exist). On any failure nothing is left at `dest`.
ApplyResult unpack_layer(const fs::path& blob, const fs::path& dest,
                         const std::string& expected_diff_id, const ApplyLimits& limits = {});

}  // namespace mkimg::snapshot
