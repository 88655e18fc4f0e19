// The registry as an oci::ImageSource for oci::open_source() (oci/transport.h): "docker://REF"
// and plain references ("alpine:3.20", "127.0.0.1:5000/base:1") go to the registry.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "oci/reference.h"
#include "oci/transport.h"
#include "registry/client.h"
#include "registry/options.h"

namespace mkimg::oci {
class Store;
}  // namespace mkimg::oci

namespace mkimg::registry {

/// One image in a registry. Manifests are fetched by digest and checked; fetching an image
/// manifest downloads the config and layers the store lacks (in parallel, verified) straight
/// into the store, so oci::pull() finds them present; open_blob() downloads anything else
/// first.
class RegistrySource : public oci::ImageSource {
 public:
  RegistrySource(oci::Reference reference, const oci::Store& store, const RegistryOptions& options,
                 std::function<void(std::string_view)> progress);

  std::string name() const override;
  oci::Descriptor resolve() override;
  std::string fetch_manifest(const oci::Descriptor& descriptor) override;
  std::unique_ptr<oci::BlobStream> open_blob(const oci::Descriptor& descriptor) override;
  std::vector<oci::Reference> names() override { return {reference_}; }
  /// Whether fetching an image manifest downloads its layers too (it always fetches the config).
  void fetch_layers(bool yes) { fetch_layers_ = yes; }

 private:
  RegistryClient& client();

  oci::Reference reference_;
  const oci::Store& store_;
  RegistryOptions options_;
  std::function<void(std::string_view)> progress_;
  std::optional<RegistryClient> client_;
  std::map<std::string, std::string> manifests_;  ///< digest -> bytes already fetched
  bool fetch_layers_ = true;
};

/// Registers the registry transport with oci::open_source() (defined in transport.cpp); every
/// source it opens uses the options `options` points to at that time (the command line fills
/// them after this call).
void register_registry_transport(std::shared_ptr<const RegistryOptions> options);

/// The reference a registry spec names ("docker://x" or "x"); nullopt when not a reference.
std::optional<oci::Reference> registry_spec_reference(std::string_view spec);

}  // namespace mkimg::registry
