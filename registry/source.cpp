// RegistrySource and its registration with the transport factory.
#include "oci/registry_source.h"

#include <fcntl.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fd.h"
#include "oci/image.h"
#include "oci/media_types.h"
#include "oci/registry_download.h"
#include "oci/store.h"

namespace mkimg::oci {
namespace {

/// Reads a committed blob file.
class FileBlobStream : public BlobStream {
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
  if (media_type::is_manifest(m.media_type) || media_type::is_index(m.media_type)) {
    return m.media_type;
  }
  // Some registries answer a generic type; the document's own mediaType decides.
  ManifestDocument doc = parse_manifest_document(m.bytes, "");
  std::string t = std::visit([](const auto& d) { return d.media_type; }, doc);
  if (t.empty()) {
    throw Error(
        describe("fetch manifest", object, "no media type (Content-Type: " + m.media_type + ")"));
  }
  return t;
}

}  // namespace

RegistrySource::RegistrySource(Reference reference, const Store& store,
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
        RegistryClient::connect(reference_.domain, reference_.path, Access::pull, options_));
  }
  return *client_;
}

Descriptor RegistrySource::resolve() {
  std::string ref =
      reference_.digest ? reference_.digest->str() : reference_.tag.value_or("latest");
  FetchedManifest m = client().get_manifest(ref);
  Descriptor d;
  d.media_type = manifest_type(m, reference_.str());
  d.digest = m.digest;
  d.size = static_cast<std::int64_t>(m.bytes.size());
  manifests_[m.digest.str()] = std::move(m.bytes);
  return d;
}

std::string RegistrySource::fetch_manifest(const Descriptor& descriptor) {
  auto it = manifests_.find(descriptor.digest.str());
  std::string bytes;
  if (it != manifests_.end()) {
    bytes = it->second;
  } else {
    bytes = client().get_manifest(descriptor.digest.str()).bytes;
    manifests_[descriptor.digest.str()] = bytes;
  }
  if (media_type::is_manifest(descriptor.media_type)) {
    Manifest manifest = parse_manifest(bytes);
    std::vector<Descriptor> blobs = {manifest.config};
    for (const auto& layer : manifest.layers) {
      if (layer.urls.empty()) blobs.push_back(layer);  // foreign layers are not fetched
    }
    download_blobs(client(), store_, blobs, progress_);
  }
  return bytes;
}

std::unique_ptr<BlobStream> RegistrySource::open_blob(const Descriptor& descriptor) {
  download_blob(client(), store_, descriptor, progress_);
  return std::make_unique<FileBlobStream>(store_.open_blob(descriptor.digest));
}

std::optional<Reference> registry_spec_reference(std::string_view spec) {
  if (spec.starts_with("docker://")) {
    spec.remove_prefix(9);
    return Reference::parse(spec);  // an explicit registry spec must be a reference
  }
  for (std::string_view prefix : {"oci:", "oci-archive:", "docker-archive:", "dir:"}) {
    if (spec.starts_with(prefix)) return std::nullopt;
  }
  return Reference::try_parse(spec);
}

}  // namespace mkimg::oci
