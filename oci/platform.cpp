// Platforms: the host's, and the "os/arch[/variant]" spelling.
#include <sys/utsname.h>

#include <string>

#include "common/error.h"
#include "oci/descriptor.h"

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

}  // namespace mkimg::oci
