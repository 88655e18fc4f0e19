// Registration of the registry transport ("docker") with oci::open_source() (oci/transport.h).
#include <mutex>
#include <utility>

#include "common/error.h"
#include "registry/source.h"

namespace mkimg::registry {

void register_registry_transport(std::shared_ptr<const RegistryOptions> options) {
  static std::once_flag once;
  std::call_once(once, [&] {
    oci::Transport transport;
    transport.name = "docker";
    transport.accepts = [](std::string_view spec) {
      try {
        return registry_spec_reference(spec).has_value();
      } catch (const Error&) {
        return spec.starts_with("docker://");
      }
    };
    transport.open = [options](std::string_view spec, const oci::Store& store,
                               const oci::SourceOptions& source) {
      auto ref = registry_spec_reference(spec);
      if (!ref) throw Error(describe("open source", spec, "not an image reference"));
      return std::unique_ptr<oci::ImageSource>(
          std::make_unique<RegistrySource>(*ref, store, *options, source.progress));
    };
    oci::register_transport(std::move(transport));
  });
}

}  // namespace mkimg::registry
