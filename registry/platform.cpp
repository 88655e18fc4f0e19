// Platform matching with containerd's variant normalisation for arm.
#include "registry/platform.h"

#include "oci/media_types.h"

namespace mkimg::registry {
namespace {

std::string normal_variant(const std::string& arch, const std::string& variant) {
  if (!variant.empty()) return variant;
  if (arch == "arm64") return "v8";
  if (arch == "arm") return "v7";
  return "";
}

bool usable(const oci::Descriptor& d) {
  return d.platform && oci::media_type::is_manifest(d.media_type);
}

}  // namespace

std::optional<oci::Descriptor> select_platform(const oci::Index& index, const oci::Platform& want) {
  std::string want_variant = normal_variant(want.architecture, want.variant);
  const oci::Descriptor* fallback = nullptr;
  for (const oci::Descriptor& d : index.manifests) {
    if (!usable(d)) continue;
    const oci::Platform& p = *d.platform;
    if (p.os != want.os || p.architecture != want.architecture) continue;
    std::string variant = normal_variant(p.architecture, p.variant);
    if (variant == want_variant) return d;
    if (want.variant.empty() && !fallback) fallback = &d;
  }
  if (fallback) return *fallback;
  return std::nullopt;
}

std::string describe_platforms(const oci::Index& index) {
  std::string out;
  for (const oci::Descriptor& d : index.manifests) {
    if (!d.platform) continue;
    if (!out.empty()) out += ", ";
    out += oci::to_string(*d.platform);
  }
  return out.empty() ? "no platforms" : out;
}

}  // namespace mkimg::registry
