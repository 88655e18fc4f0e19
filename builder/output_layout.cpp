#include "builder/output_layout.h"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/in_root.h"
#include "oci/image.h"
#include "oci/store.h"

namespace mkimg::builder {
namespace {

using json = nlohmann::json;

}  // namespace

void write_oci_layout(const oci::Store& store, const oci::Descriptor& manifest,
                      const std::filesystem::path& dir, const std::string& tag) {
  std::filesystem::create_directories(dir);
  oci::Image image = oci::load_image(store, manifest);
  for (const auto& l : image.manifest.layers) store.export_blob(l.digest, dir);
  store.export_blob(image.manifest.config.digest, dir);
  store.export_blob(manifest.digest, dir);
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
