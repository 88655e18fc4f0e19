// An image's root file system written out, for `mkimg build --output type=local|tar`: the
// layers applied in order as apply.h's flatten mode does (a whiteout deletes, an opaque
// directory drops what the layers below put in it), each checked against its diff_id.
//
// Into a directory (BuildKit's local exporter): the layers are applied in a fresh directory made
// inside the destination, and its entries are then moved into the destination one name at a
// time, merged as BuildKit's client receives an export (fsutil's Receive with Merge): what the
// destination held and the image does not is kept; a path both have becomes the image's; a
// directory both have keeps its other contents and takes the image's owner, mode, xattrs and
// time. Every entry is owned by `owner` (BuildKit makes each file the caller's). Nothing outside
// the destination is touched: the moves go between directory fds, and no symlink is followed.
//
// As a tar (BuildKit's tar exporter): the layers are applied in a directory under `work_dir`,
// owners as the layers say, and that tree is streamed to a descriptor in the layer writer's
// format (layer_writer.h: sorted, numeric owners, mtimes clamped to SOURCE_DATE_EPOCH),
// uncompressed.
//
// Either way the work is one pass over each layer and, for the tar, one over the tree; no file
// is held in memory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "snapshot/apply.h"
#include "snapshot/layer_writer.h"

namespace mkimg::snapshot {

/// One layer of the image, bottom first: its blob and the diff_id it must have.
struct ImageLayer {
  fs::path blob;
  std::string diff_id;  ///< "sha256:..."
};

/// Writes the root file system of `layers` into `dest` (see the header comment). `dest` is made
/// (mode 0700, missing parents too, as BuildKit's client) when missing; anything else that is
/// not a directory there is an error naming it. Throws mkimg::Error; `dest` may then hold part
/// of the tree. `keep_going` as ApplyLimits::keep_going: false stops it ("interrupted").
void export_root_dir(const std::vector<ImageLayer>& layers, const fs::path& dest,
                     const ApplyOwner& owner, const std::function<bool()>& keep_going = {});

/// Writes the root file system of `layers` as one tar to `out` (not closed), unpacking it first
/// in a temporary directory under `work_dir` (stopped, as the tar's writing, by
/// `options.keep_going`). Returns the number of tar entries.
int64_t export_root_tar(const std::vector<ImageLayer>& layers, const fs::path& work_dir, int out,
                        const LayerOptions& options);

}  // namespace mkimg::snapshot
