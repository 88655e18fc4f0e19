// Unpacked layers under <root>/layers/<chain id hex>: each directory holds one layer in
// overlay form (whiteouts as 0/0 devices), so an image's stack mounts as overlay lowerdirs.
// A step's upper directory is adopted as its layer's directory; a base image's layers are
// unpacked (verified against their diff ids) the first time they are needed.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "oci/descriptor.h"
#include "oci/image.h"

namespace mkimg::oci {
class Store;
}

namespace mkimg::builder {

/// OCI chain id: the first layer's diff id, then sha256("<parent chain> <diff id>").
std::string chain_id(const std::string& parent_chain, const std::string& diff_id);

/// The chain ids of every layer of a config's rootfs, bottom first.
std::vector<std::string> chain_ids(const oci::ImageConfig& config);

/// <root>/layers/<hex of chain>.
std::filesystem::path layer_dir(const oci::Store& store, const std::string& chain);

/// The unpacked directory of `layer` (diff id `diff_id`, chain `chain`), unpacking the blob
/// from the store when the directory does not exist yet.
std::filesystem::path ensure_unpacked(const oci::Store& store, const oci::Descriptor& layer,
                                      const std::string& diff_id, const std::string& chain);

/// The unpacked directories of every layer of an image, bottom first.
std::vector<std::filesystem::path> ensure_image_unpacked(
    const oci::Store& store, const oci::ImageConfig& config,
    const std::vector<oci::Descriptor>& layers);

/// Moves a finished step's upper directory to the layer directory of `chain` (or removes it
/// when another build got there first) and returns the layer directory.
std::filesystem::path adopt_upper(const oci::Store& store, const std::filesystem::path& upper,
                                  const std::string& chain);

/// Lower directories for an overlay: `unpacked` reversed (topmost first).
std::vector<std::filesystem::path> overlay_lowers(
    const std::vector<std::filesystem::path>& unpacked);

}  // namespace mkimg::builder
