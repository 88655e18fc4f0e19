// Archives in and out: a docker-archive (what `docker save` writes and `docker load` reads:
// manifest.json, repositories, <config>.json, <layer>/layer.tar with uncompressed layers) and
// an oci-archive (a tar of an OCI image layout). Files are written to a temp name beside the
// destination and renamed, so a reader never sees half an archive. Reading goes through the
// transports (transport.h), so every blob loaded is verified.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "oci/descriptor.h"
#include "oci/reference.h"

namespace mkimg::oci {

class Store;

/// The archive formats save_archive() writes.
enum class ArchiveFormat { kDocker, kOci };

/// One image to put in an archive: the manifest and the names to record for it (may be empty).
struct ArchiveImage {
  Descriptor manifest;
  std::vector<Reference> names;
};

/// Writes `images` from the store to `file` in `format`. Throws mkimg::Error
/// ("save `file`: ...").
void save_archive(const Store& store, const std::vector<ArchiveImage>& images,
                  const std::filesystem::path& file, ArchiveFormat format);

/// What load_archive() stored: each image and the names it was tagged with.
struct LoadedImage {
  Descriptor manifest;
  std::vector<Reference> names;
};

/// Reads a docker-archive or an oci-archive (detected from its contents), copies every image
/// into the store verified, and tags each with the names the archive gives. Throws
/// mkimg::Error ("load `file`: ...") and tags nothing when the archive is corrupt.
std::vector<LoadedImage> load_archive(Store& store, const std::filesystem::path& file);

}  // namespace mkimg::oci
