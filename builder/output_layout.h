// The --output types that write files: `type=oci,dest=DIR`, an OCI image layout directory
// holding one image with its tag (so `skopeo inspect oci:DIR:TAG` works; blobs are hard-linked
// from the store when the file systems allow, else copied; index.json is written last and
// atomically); and the image's root file system, as BuildKit's local and tar exporters write
// it: `type=local,dest=DIR` as files, `type=tar,dest=FILE|-` as one tar
// (snapshot/root_export.h does the work).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "oci/descriptor.h"

namespace mkimg::oci {
class Store;
}

namespace mkimg::builder {

/// Writes the image `manifest` (or an index, with each platform's image) and every blob it
/// reaches to the layout at `dir`, naming it `tag` in index.json (ref.name annotation; "latest"
/// when empty). An existing layout keeps its other entries.
void write_oci_layout(const oci::Store& store, const oci::Descriptor& manifest,
                      const std::filesystem::path& dir, const std::string& tag);

/// Writes the root file system of the image `manifest` into `dir` (made 0700 when missing),
/// merged into what it holds as buildx does; every file is owned by the user mkimg runs as
/// (root, or in a build without root the user who ran it). The layer blobs must be in the store.
void write_local_output(const oci::Store& store, const oci::Descriptor& manifest,
                        const std::filesystem::path& dir);

/// Writes the same tree as one tar, with the image's owners, sorted, mtimes clamped to
/// `source_date_epoch` as the layers' are, to `dest` (a temp file beside it, renamed onto it:
/// common/in_root.h output_target) or, for "-", to stdout (never a terminal). The tree is
/// unpacked in the store's tmp/ on the way.
void write_tar_output(const oci::Store& store, const oci::Descriptor& manifest,
                      const std::filesystem::path& dest,
                      std::optional<std::int64_t> source_date_epoch);

}  // namespace mkimg::builder
