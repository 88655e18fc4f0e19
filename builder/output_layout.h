// `--output type=oci,dest=DIR`: an OCI image layout directory holding one image with its tag
// (so `skopeo inspect oci:DIR:TAG` works). Blobs are hard-linked from the store when the
// file systems allow, else copied; index.json is written last and atomically.
#pragma once

#include <filesystem>
#include <string>

#include "oci/descriptor.h"

namespace mkimg::oci {
class Store;
}

namespace mkimg::builder {

/// Writes the image `manifest` (and every blob it reaches) to the layout at `dir`, naming it
/// `tag` in index.json (ref.name annotation; "latest" when empty). An existing layout keeps
/// its other entries.
void write_oci_layout(const oci::Store& store, const oci::Descriptor& manifest,
                      const std::filesystem::path& dir, const std::string& tag);

}  // namespace mkimg::builder
