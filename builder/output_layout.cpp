#include "builder/output_layout.h"

#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <random>

#include "common/error.h"
#include "common/fd.h"
#include "common/in_root.h"
#include "oci/image.h"
#include "oci/store.h"
#include "runtime/cancel.h"
#include "snapshot/root_export.h"

namespace mkimg::builder {
namespace {

using json = nlohmann::json;

/// The layers of the image `manifest`, bottom first, as blobs of the store with their diff_ids.
std::vector<snapshot::ImageLayer> image_layers(const oci::Store& store,
                                               const oci::Descriptor& manifest) {
  oci::Image image = oci::load_image(store, manifest);
  const auto& layers = image.manifest.layers;
  const auto& diff_ids = image.config.rootfs.diff_ids;
  if (layers.size() != diff_ids.size()) {
    throw Error(describe("write the root file system of", manifest.digest.str(),
                         "the manifest has " + std::to_string(layers.size()) +
                             " layers and the config " + std::to_string(diff_ids.size()) +
                             " diff_ids"));
  }
  std::vector<snapshot::ImageLayer> out;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    if (!store.has_blob(layers[i].digest)) {
      throw Error(describe("write the root file system of", manifest.digest.str(),
                           "the store lacks layer " + layers[i].digest.str()));
    }
    out.push_back({store.blob_path(layers[i].digest), diff_ids[i].str()});
  }
  return out;
}

}  // namespace

void write_local_output(const oci::Store& store, const oci::Descriptor& manifest,
                        const std::filesystem::path& dir) {
  try {
    snapshot::export_root_dir(image_layers(store, manifest), dir,
                              snapshot::ApplyOwner{::getuid(), ::getgid()}, runtime::keep_going);
  } catch (const std::exception& e) {
    throw with_context("--output type=local,dest=" + dir.string(), e);
  }
}

void write_tar_output(const oci::Store& store, const oci::Descriptor& manifest,
                      const std::filesystem::path& dest,
                      std::optional<std::int64_t> source_date_epoch) {
  snapshot::LayerOptions options;
  options.source_date_epoch = source_date_epoch;
  options.keep_going = runtime::keep_going;
  try {
    std::vector<snapshot::ImageLayer> layers = image_layers(store, manifest);
    if (dest == "-") {
      if (::isatty(STDOUT_FILENO)) {
        throw Error("refusing to write a tar to a terminal: redirect stdout or name a file");
      }
      snapshot::export_root_tar(layers, store.tmp_dir(), STDOUT_FILENO, options);
      return;
    }
    AtomicFile file(output_target(dest));
    snapshot::export_root_tar(layers, store.tmp_dir(), file.fd(), options);
    file.commit();
  } catch (const std::exception& e) {
    throw with_context("--output type=tar,dest=" + dest.string(), e);
  }
}

void write_oci_layout(const oci::Store& store, const oci::Descriptor& manifest,
                      const std::filesystem::path& dir, const std::string& tag) {
  std::filesystem::create_directories(dir);
  // The image, or an index with each platform's image.
  std::set<oci::Digest> blobs;
  oci::image_blobs(store, manifest, blobs);
  for (const auto& digest : blobs) store.export_blob(digest, dir);
  write_file_atomic(dir / "oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  json index{{"schemaVersion", 2},
             {"mediaType", "application/vnd.oci.image.index.v1+json"},
             {"manifests", json::array()}};
  std::error_code ec;
  if (std::filesystem::exists(dir / "index.json", ec)) {
    try {
      index = json::parse(read_host_file(dir / "index.json"));
    } catch (const std::exception&) {
    }
  }
  std::string name = tag.empty() ? "latest" : tag;
  json kept = json::array();
  for (const auto& m : index["manifests"]) {
    if (m.value("annotations", json::object()).value(oci::kRefNameAnnotation, "") != name) {
      kept.push_back(m);
    }
  }
  kept.push_back({{"mediaType", manifest.media_type},
                  {"digest", manifest.digest.str()},
                  {"size", manifest.size},
                  {"annotations", {{oci::kRefNameAnnotation, name}}}});
  index["manifests"] = kept;
  write_file_atomic(dir / "index.json", index.dump());
}

}  // namespace mkimg::builder
