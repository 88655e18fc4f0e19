// Registration of the registry transport with open_source() (transport.h).
#include <mutex>

#include "common/error.h"
#include "oci/registry_source.h"

namespace mkimg::oci {

void register_registry_transport(std::shared_ptr<const RegistryOptions> options) {
  static std::once_flag once;
  std::call_once(once, [&] {
    register_transport(Transport{
        "docker",
        [](std::string_view spec) {
          try {
            return registry_spec_reference(spec).has_value();
          } catch (const Error&) {
            return spec.starts_with("docker://");
          }
        },
        [options](std::string_view spec, const Store& store, const SourceOptions& source) {
          auto ref = registry_spec_reference(spec);
          if (!ref) throw Error(describe("open source", spec, "not an image reference"));
          return std::unique_ptr<ImageSource>(
              std::make_unique<RegistrySource>(*ref, store, *options, source.progress));
        }});
  });
}

}  // namespace mkimg::oci
