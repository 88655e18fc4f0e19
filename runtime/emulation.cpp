#include "runtime/emulation.h"

#include <fstream>
#include <map>

#include "oci/descriptor.h"

namespace mkimg::runtime {
namespace {

/// An enabled binfmt_misc entry `name` (the file's first line is "enabled").
bool binfmt_enabled(const std::string& name) {
  std::ifstream in("/proc/sys/fs/binfmt_misc/" + name);
  std::string first;
  return std::getline(in, first) && first == "enabled";
}

}  // namespace

std::optional<std::string> cannot_run(const std::string& os, const std::string& architecture) {
  if (!os.empty() && os != "linux") return "only linux images run here, not " + os;
  std::string host = oci::host_platform().architecture;
  if (architecture.empty() || architecture == host || (host == "amd64" && architecture == "386") ||
      (host == "arm64" && architecture == "arm")) {
    return std::nullopt;
  }
  static const std::map<std::string, std::string> qemu{
      {"amd64", "x86_64"},    {"arm64", "aarch64"},    {"arm", "arm"},
      {"386", "i386"},        {"ppc64le", "ppc64le"},  {"s390x", "s390x"},
      {"riscv64", "riscv64"}, {"mips64le", "mips64el"}};
  auto it = qemu.find(architecture);
  if (it != qemu.end() && binfmt_enabled("qemu-" + it->second)) return std::nullopt;
  return "cannot run programs for linux/" + architecture + " on this " + host +
         " host: no emulator is registered for it (install qemu-user-static and register it "
         "with binfmt_misc, e.g. `apt-get install qemu-user-static binfmt-support`)";
}

}  // namespace mkimg::runtime
