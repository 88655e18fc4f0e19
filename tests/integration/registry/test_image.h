// Small real images for the registry tests, written into a real store with the oci/ API:
// a gzip layer made by `tar`, a config with its diff_id, a manifest, and a tag.
#pragma once

#include <string>
#include <vector>

#include "oci/image.h"
#include "oci/media_types.h"
#include "oci/reference.h"
#include "oci/store.h"
#include "tests/support/registry_fixture.h"

namespace mkimg::testing {

/// What make_image wrote.
struct TestImage {
  oci::Descriptor manifest;
  oci::Descriptor layer;
};

/// A gzip layer holding one file `name` with `content`, as bytes.
inline std::string make_layer(const std::string& name, const std::string& content) {
  TempDir d;
  write_file(d / "root" / name, content);
  CommandResult r = run({"sh", "-c",
                         "cd " + (d / "root").string() +
                             " && tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner"
                             " -cf - . | gzip -n > " +
                             (d / "layer.tgz").string()});
  if (r.exit_code != 0) throw std::runtime_error("make layer: " + r.all());
  return read_file(d / "layer.tgz");
}

/// sha256 of the uncompressed layer.
inline oci::Digest diff_id(const std::string& gzip_bytes) {
  TempDir d;
  write_file(d / "l.tgz", gzip_bytes);
  CommandResult r = run({"sh", "-c", "gzip -dc " + (d / "l.tgz").string() + " | sha256sum"});
  return oci::Digest::parse("sha256:" + r.out.substr(0, 64));
}

/// Writes a one-layer image for `platform` into the store at `root`; tags it `tag` unless
/// `tag` is empty.
inline TestImage make_image(const fs::path& root, const std::string& tag,
                            const std::string& content, const std::string& platform = "linux/amd64",
                            std::size_t filler_bytes = 0) {
  oci::Store store = oci::Store::open(root);
  std::string data = content + std::string(filler_bytes, '\0');
  for (std::size_t i = 0; i < filler_bytes; ++i)
    data[content.size() + i] = static_cast<char>(i * 7919 % 251);
  std::string layer = make_layer("hello.txt", data);
  oci::Descriptor ld = store.put_blob(layer, oci::media_type::kOciLayerGzip);
  oci::ImageConfig config;
  oci::Platform p = oci::parse_platform(platform);
  config.architecture = p.architecture;
  config.os = p.os;
  if (!p.variant.empty()) config.variant = p.variant;
  config.rootfs.diff_ids = {diff_id(layer)};
  config.config = oci::ContainerConfig{};
  config.config->cmd = std::vector<std::string>{"/bin/sh"};
  oci::Descriptor md = oci::write_image(store, config, {ld});
  if (!tag.empty()) store.tag(oci::Reference::parse(tag), md);
  return {md, ld};
}

/// Writes an OCI index over `manifests` (each with its platform) and tags it.
inline oci::Descriptor make_index(
    const fs::path& root, const std::string& tag,
    const std::vector<std::pair<oci::Descriptor, std::string>>& manifests) {
  oci::Store store = oci::Store::open(root);
  oci::Index index;
  index.media_type = oci::media_type::kOciIndex;
  for (auto [d, platform] : manifests) {
    d.platform = oci::parse_platform(platform);
    index.manifests.push_back(d);
  }
  oci::Descriptor id = store.put_blob(oci::to_json(index), oci::media_type::kOciIndex);
  store.tag(oci::Reference::parse(tag), id);
  return id;
}

}  // namespace mkimg::testing
