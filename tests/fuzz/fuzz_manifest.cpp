// libFuzzer target: manifest, index, config and descriptor parsing never crash, and whatever
// parses serialises canonically and parses back to the same value.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/error.h"
#include "oci/image.h"
#include "oci/media_types.h"
#include "oci/reference.h"

using namespace mkimg::oci;

namespace {

template <typename T, typename Parse>
void round_trip(std::string_view input, Parse parse) {
  T value;
  try {
    value = parse(input);
  } catch (const mkimg::Error&) {
    return;
  }
  std::string json = to_json(value);
  T again = parse(json);  // canonical output must parse
  if (!(again == value) || to_json(again) != json) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  round_trip<Manifest>(input, [](std::string_view s) { return parse_manifest(s); });
  round_trip<Index>(input, [](std::string_view s) { return parse_index(s); });
  round_trip<ImageConfig>(input, [](std::string_view s) { return parse_image_config(s); });
  round_trip<Descriptor>(input, [](std::string_view s) { return parse_descriptor(s); });
  for (std::string_view type : {std::string_view{}, media_type::kOciManifest, media_type::kOciIndex,
                                media_type::kDockerManifestList}) {
    try {
      parse_manifest_document(input, type);
    } catch (const mkimg::Error&) {
    }
  }
  if (size < 512) {
    if (auto ref = Reference::try_parse(input)) {
      if (!(Reference::parse(ref->familiar()) == *ref) || !(Reference::parse(ref->str()) == *ref)) {
        std::abort();
      }
    }
  }
  return 0;
}
