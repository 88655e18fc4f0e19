// Platforms: the host's, the "os/arch[/variant]" spelling, and the choice of one in an index.
#include <sys/utsname.h>

#include <string>

#include "common/error.h"
#include "oci/descriptor.h"
#include "oci/image.h"
#include "oci/media_types.h"

namespace mkimg::oci {

Platform host_platform() {
  Platform p;
  p.os = "linux";
  struct utsname u {};
  std::string machine = ::uname(&u) == 0 ? u.machine : "x86_64";
  if (machine == "x86_64") {
    p.architecture = "amd64";
  } else if (machine == "aarch64") {
    p.architecture = "arm64";
    p.variant = "v8";
  } else if (machine.starts_with("armv7")) {
    p.architecture = "arm";
    p.variant = "v7";
  } else if (machine == "i686" || machine == "i386") {
    p.architecture = "386";
  } else {
    p.architecture = machine;
  }
  return p;
}

std::string to_string(const Platform& platform) {
  std::string s = platform.os + "/" + platform.architecture;
  if (!platform.variant.empty()) s += "/" + platform.variant;
  return s;
}

Platform parse_platform(std::string_view text) {
  Platform p;
  std::string_view rest = text;
  auto next = [&rest]() {
    auto slash = rest.find('/');
    std::string part(rest.substr(0, slash));
    rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    return part;
  };
  p.os = next();
  p.architecture = next();
  p.variant = next();
  if (p.os.empty() || p.architecture.empty() || !rest.empty() ||
      text.find("//") != std::string_view::npos || text.ends_with('/')) {
    throw Error(describe("parse platform", text, "expected os/arch[/variant]"));
  }
  return p;
}

namespace {

/// containerd's normalisation: arm64 is arm64/v8 and arm is arm/v7 when no variant is named.
std::string normal_variant(const std::string& arch, const std::string& variant) {
  if (!variant.empty()) return variant;
  if (arch == "arm64") return "v8";
  if (arch == "arm") return "v7";
  return "";
}

}  // namespace

std::optional<Descriptor> find_platform(const Index& index, const Platform& want) {
  std::string want_variant = normal_variant(want.architecture, want.variant);
  const Descriptor* fallback = nullptr;
  for (const Descriptor& d : index.manifests) {
    if (!d.platform || !media_type::is_manifest(d.media_type)) continue;
    const Platform& p = *d.platform;
    if (p.os != want.os || p.architecture != want.architecture) continue;
    if (normal_variant(p.architecture, p.variant) == want_variant) return d;
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
