// load_archive(): detect the format, copy every image verified, then tag them all.
#include <algorithm>

#include "common/error.h"
#include "oci/archive.h"
#include "oci/sources.h"
#include "oci/store.h"
#include "oci/tar_reader.h"

namespace mkimg::oci {
namespace fs = std::filesystem;

namespace {

std::vector<LoadedImage> copy_all(Store& store, const fs::path& file) {
  auto members = detail::list_tar_members(file);
  auto has = [&](const char* name) {
    return std::find(members.begin(), members.end(), name) != members.end();
  };
  std::vector<LoadedImage> loaded;
  if (has("manifest.json")) {
    std::size_t n = detail::docker_archive_size(*detail::tar_tree(file));
    for (std::size_t i = 0; i < n; ++i) {
      auto source = detail::docker_archive_source(
          detail::tar_tree(file), "docker-archive:" + file.string(), {.position = i});
      loaded.push_back({.manifest = pull(store, *source), .names = source->names()});
    }
  } else if (has("index.json") && has("oci-layout")) {
    std::size_t n = detail::oci_layout_size(*detail::tar_tree(file));
    for (std::size_t i = 0; i < n; ++i) {
      auto source = detail::oci_layout_source(detail::tar_tree(file),
                                              "oci-archive:" + file.string(), {.position = i});
      loaded.push_back({.manifest = pull(store, *source), .names = source->names()});
    }
  } else {
    throw Error("neither a docker-archive (manifest.json) nor an oci-archive (index.json)");
  }
  return loaded;
}

}  // namespace

std::vector<LoadedImage> load_archive(Store& store, const fs::path& file) {
  std::vector<LoadedImage> loaded;
  try {
    if (!fs::is_regular_file(file)) {
      throw Error(fs::exists(file) ? "not a regular file" : "no such file");
    }
    loaded = copy_all(store, file);
  } catch (const Error& e) {
    throw with_context("load `" + file.string() + "`", e);
  }
  for (const auto& image : loaded) {
    if (image.names.empty()) store.add_untagged(image.manifest);
    for (const auto& name : image.names) store.tag(name, image.manifest);
  }
  return loaded;
}

}  // namespace mkimg::oci
