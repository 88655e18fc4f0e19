#include "builder/layer_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

#include "common/error.h"
#include "oci/digest.h"
#include "oci/store.h"
#include "snapshot/apply.h"

namespace mkimg::builder {

std::string chain_id(const std::string& parent_chain, const std::string& diff_id) {
  if (parent_chain.empty()) return diff_id;
  return oci::sha256_of(parent_chain + " " + diff_id).str();
}

std::vector<std::string> chain_ids(const oci::ImageConfig& config) {
  std::vector<std::string> out;
  std::string chain;
  for (const auto& d : config.rootfs.diff_ids) {
    chain = chain_id(chain, d.str());
    out.push_back(chain);
  }
  return out;
}

std::filesystem::path layer_dir(const oci::Store& store, const std::string& chain) {
  return store.layers_dir() / oci::Digest::parse(chain).encoded();
}

std::filesystem::path ensure_unpacked(const oci::Store& store, const oci::Descriptor& layer,
                                      const std::string& diff_id, const std::string& chain) {
  auto dir = layer_dir(store, chain);
  std::error_code ec;
  if (std::filesystem::is_directory(dir, ec)) return dir;
  std::filesystem::create_directories(store.layers_dir());
  try {
    snapshot::unpack_layer(store.blob_path(layer.digest), dir, diff_id);
  } catch (const std::exception& e) {
    // Another build may have unpacked the same layer meanwhile.
    if (std::filesystem::is_directory(dir, ec)) return dir;
    throw with_context("unpack layer `" + layer.digest.str() + "`", e);
  }
  return dir;
}

std::vector<std::filesystem::path> ensure_image_unpacked(
    const oci::Store& store, const oci::ImageConfig& config,
    const std::vector<oci::Descriptor>& layers) {
  auto chains = chain_ids(config);
  if (chains.size() != layers.size()) {
    throw Error(
        describe("unpack image", config.architecture, "layer count and diff_ids do not match"));
  }
  std::vector<std::filesystem::path> out;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    out.push_back(ensure_unpacked(store, layers[i], config.rootfs.diff_ids[i].str(), chains[i]));
  }
  return out;
}

std::filesystem::path adopt_upper(const oci::Store& store, const std::filesystem::path& upper,
                                  const std::string& chain) {
  auto dir = layer_dir(store, chain);
  std::filesystem::create_directories(store.layers_dir());
  {  // the layer's files are on disk before it is recorded (RELIABILITY 21)
    int fd = ::open(upper.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
      ::syncfs(fd);
      ::close(fd);
    }
  }
  if (::rename(upper.c_str(), dir.c_str()) != 0) {
    if (errno != EEXIST && errno != ENOTEMPTY) throw sys_error("rename", upper.string());
    std::error_code ec;
    std::filesystem::remove_all(upper, ec);
  }
  return dir;
}

std::vector<std::filesystem::path> overlay_lowers(
    const std::vector<std::filesystem::path>& unpacked) {
  return {unpacked.rbegin(), unpacked.rend()};
}

}  // namespace mkimg::builder
