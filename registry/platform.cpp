// Platform matching with containerd's variant normalisation for arm.
#include "oci/registry_platform.h"

#include "oci/media_types.h"

namespace mkimg::oci {
namespace {

std::string normal_variant(const std::string& arch, const std::string& variant) {
  if (!variant.empty()) return variant;
  if (arch == "arm64") return "v8";
  if (arch == "arm") return "v7";
  return "";
}

bool usable(const Descriptor& d) { return d.platform && media_type::is_manifest(d.media_type); }

}  // namespace

std::optional<Descriptor> select_platform(const Index& index, const Platform& want) {
  std::string want_variant = normal_variant(want.architecture, want.variant);
  const Descriptor* fallback = nullptr;
  for (const Descriptor& d : index.manifests) {
    if (!usable(d)) continue;
    const Platform& p = *d.platform;
    if (p.os != want.os || p.architecture != want.architecture) continue;
    std::string variant = normal_variant(p.architecture, p.variant);
    if (variant == want_variant) return d;
    if (want.variant.empty() && !fallback) fallback = &d;
  }
  if (fallback) return *fallback;
  return std::nullopt;
}

std::string describe_platforms(const Index& index) {
  std::string out;
  for (const Descriptor& d : index.manifests) {
    if (!d.platform) continue;
    if (!out.empty()) out += ", ";
    out += to_string(*d.platform);
  }
  return out.empty() ? "no platforms" : out;
}

}  // namespace mkimg::oci
