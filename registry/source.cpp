// RegistrySource, and which specs name a registry image (registry_spec_reference).
#include "registry/source.h"

#include <fcntl.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fd.h"
#include "oci/image.h"
#include "oci/media_types.h"
#include "oci/store.h"
#include "registry/download.h"

namespace mkimg::registry {
namespace {

/// Reads a committed blob file.
class FileBlobStream : public oci::BlobStream {
 public:
  explicit FileBlobStream(UniqueFd fd) : fd_(std::move(fd)) {}
  std::size_t read(void* data, std::size_t size) override {
    for (;;) {
      ssize_t n = ::read(fd_.get(), data, size);
      if (n >= 0) return static_cast<std::size_t>(n);
      if (errno != EINTR) throw sys_error("read", "blob");
    }
  }

 private:
  UniqueFd fd_;
};

std::string manifest_type(const FetchedManifest& m, std::string_view object) {
  if (oci::media_type::is_manifest(m.media_type) || oci::media_type::is_index(m.media_type)) {
    return m.media_type;
  }
  // Some registries answer a generic type; the document's own mediaType decides.
  oci::ManifestDocument doc = oci::parse_manifest_document(m.bytes, "");
  std::string t = std::visit([](const auto& d) { return d.media_type; }, doc);
  if (t.empty()) {
    throw Error(
        describe("fetch manifest", object, "no media type (Content-Type: " + m.media_type + ")"));
  }
  return t;
}

}  // namespace

RegistrySource::RegistrySource(oci::Reference reference, const oci::Store& store,
                               const RegistryOptions& options,
                               std::function<void(std::string_view)> progress)
    : reference_(std::move(reference)),
      store_(store),
      options_(options),
      progress_(std::move(progress)) {}

std::string RegistrySource::name() const { return "docker://" + reference_.str(); }

RegistryClient& RegistrySource::client() {
  if (!client_) {
    client_.emplace(
        RegistryClient::connect(reference_.domain, reference_.path, Access::kPull, options_));
  }
  return *client_;
}

oci::Descriptor RegistrySource::resolve() {
  std::string ref =
      reference_.digest ? reference_.digest->str() : reference_.tag.value_or("latest");
  FetchedManifest m = client().get_manifest(ref);
  oci::Descriptor d;
  d.media_type = manifest_type(m, reference_.str());
  d.digest = m.digest;
  d.size = static_cast<std::int64_t>(m.bytes.size());
  manifests_[m.digest.str()] = std::move(m.bytes);
  return d;
}

std::string RegistrySource::fetch_manifest(const oci::Descriptor& descriptor) {
  auto it = manifests_.find(descriptor.digest.str());
  std::string bytes;
  if (it != manifests_.end()) {
    bytes = it->second;
  } else {
    bytes = client().get_manifest(descriptor.digest.str()).bytes;
    manifests_[descriptor.digest.str()] = bytes;
  }
  if (oci::media_type::is_manifest(descriptor.media_type)) {
    oci::Manifest manifest = oci::parse_manifest(bytes);
    std::vector<oci::Descriptor> blobs = {manifest.config};
    for (const auto& layer : manifest.layers) {
      if (layer.urls.empty() && fetch_layers_) blobs.push_back(layer);  // not foreign layers
    }
    download_blobs(client(), store_, blobs, progress_);
  }
  return bytes;
}

std::unique_ptr<oci::BlobStream> RegistrySource::open_blob(const oci::Descriptor& descriptor) {
  download_blob(client(), store_, descriptor, progress_);
  return std::make_unique<FileBlobStream>(store_.open_blob(descriptor.digest));
}

std::optional<oci::Reference> registry_spec_reference(std::string_view spec) {
  if (spec.starts_with("docker://")) {
    spec.remove_prefix(9);
    return oci::Reference::parse(spec);  // an explicit registry spec must be a reference
  }
  for (std::string_view prefix : {"oci:", "oci-archive:", "docker-archive:", "dir:"}) {
    if (spec.starts_with(prefix)) return std::nullopt;
  }
  return oci::Reference::try_parse(spec);
}

}  // namespace mkimg::registry
