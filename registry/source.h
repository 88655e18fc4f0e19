// The registry as an ImageSource for open_source() (transport.h): "docker://REF" and plain
// references ("alpine:3.20", "127.0.0.1:5000/base:1") go to the registry.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "oci/reference.h"
#include "oci/registry_client.h"
#include "oci/registry_options.h"
#include "oci/transport.h"

namespace mkimg::oci {

class Store;

/// One image in a registry. Manifests are fetched by digest and checked; fetching an image
/// manifest downloads the config and layers the store lacks (in parallel, verified) straight
/// into the store, so pull() finds them present; open_blob() downloads anything else first.
class RegistrySource : public ImageSource {
 public:
  RegistrySource(Reference reference, const Store& store, const RegistryOptions& options,
                 std::function<void(std::string_view)> progress);

  std::string name() const override;
  Descriptor resolve() override;
  std::string fetch_manifest(const Descriptor& descriptor) override;
  std::unique_ptr<BlobStream> open_blob(const Descriptor& descriptor) override;
  std::vector<Reference> names() override { return {reference_}; }

 private:
  RegistryClient& client();

  Reference reference_;
  const Store& store_;
  RegistryOptions options_;
  std::function<void(std::string_view)> progress_;
  std::optional<RegistryClient> client_;
  std::map<std::string, std::string> manifests_;  ///< digest -> bytes already fetched
};

/// Registers the registry transport with open_source(); every source it opens uses the
/// options `options` points to at that time (the command line fills them after this call).
void register_registry_transport(std::shared_ptr<const RegistryOptions> options);

/// The reference a registry spec names ("docker://x" or "x"); nullopt when not a reference.
std::optional<Reference> registry_spec_reference(std::string_view spec);

}  // namespace mkimg::oci
