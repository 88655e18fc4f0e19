// Whether a platform's programs run here, and `mkimg setup-binfmt` (runtime/emulation.h).
#include "runtime/emulation.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <system_error>
#include <utility>

#include "common/error.h"
#include "common/fd.h"
#include "common/in_root.h"
#include "oci/descriptor.h"

namespace mkimg::runtime {
namespace fs = std::filesystem;
namespace {

/// OCI architecture -> QEMU's name, in the order setup-binfmt goes through them.
const std::vector<std::pair<std::string, std::string>>& qemu_names() {
  static const std::vector<std::pair<std::string, std::string>> names{
      {"amd64", "x86_64"},       {"arm64", "aarch64"}, {"arm", "arm"},       {"386", "i386"},
      {"ppc64le", "ppc64le"},    {"ppc64", "ppc64"},   {"s390x", "s390x"},   {"riscv64", "riscv64"},
      {"mips64le", "mips64el"},  {"mips64", "mips64"}, {"mipsle", "mipsel"}, {"mips", "mips"},
      {"loong64", "loongarch64"}};
  return names;
}

constexpr const char* kInstall = "install qemu-user-static (`apt-get install qemu-user-static`)";

/// The text of `path`, nullopt when it does not exist or cannot be read.
std::optional<std::string> read_if_present(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::nullopt;
  try {
    return read_host_file(path);
  } catch (const Error&) {
    return std::nullopt;
  }
}

/// binfmt_misc is mounted at `dir` when its register file is there (the bare directory of
/// /proc/sys/fs/binfmt_misc is empty).
bool binfmt_mounted(const fs::path& dir) {
  std::error_code ec;
  return fs::exists(dir / "register", ec);
}

fs::path conf_path(const BinfmtPaths& paths, const std::string& qemu) {
  return paths.confs / ("qemu-" + qemu + ".conf");
}

/// The registration of qemu-<qemu> in its conf, nullopt when there is none.
std::optional<BinfmtRegistration> find_registration(const BinfmtPaths& paths,
                                                    const std::string& qemu) {
  auto text = read_if_present(conf_path(paths, qemu));
  if (!text) return std::nullopt;
  for (auto& r : parse_binfmt_conf(*text)) {
    if (r.name == "qemu-" + qemu) return r;
  }
  return std::nullopt;
}

/// "run `mkimg setup-binfmt` as root", with qemu-user-static's installation first when the
/// conf of `qemu` is missing.
std::string setup_fix(const BinfmtPaths& paths, const std::string& qemu) {
  std::string fix = "run `mkimg setup-binfmt` as root";
  if (!find_registration(paths, qemu)) fix = std::string(kInstall) + ", then " + fix;
  return fix;
}

std::string re_register_fix(const BinfmtPaths& paths, const std::string& entry) {
  return "register it again with F: `echo -1 > " + (paths.binfmt / entry).string() +
         "`, then `mkimg setup-binfmt`";
}

/// Writes `data` to a binfmt_misc control file (register, an entry) in one write. False when
/// the kernel says the entry exists (another setup-binfmt registered it meanwhile).
bool write_control(const fs::path& path, const std::string& data) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  int err = errno;
  if (!fd) {
    throw Error(describe("open", path.string(),
                         std::string(std::strerror(err)) +
                             (err == EACCES || err == EPERM ? " (setup-binfmt needs root)" : "")));
  }
  // binfmt_misc takes a control write whole, in one write(2), or refuses it.
  ssize_t n;
  do {
    n = ::write(fd.get(), data.data(), data.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0 && errno == EEXIST) return false;
  if (n < 0) throw sys_error("write to", path.string());
  if (static_cast<size_t>(n) != data.size()) {
    throw Error(describe("write to", path.string(), "the write was cut short"));
  }
  return true;
}

void mount_binfmt(const fs::path& dir) {
  if (::mount("binfmt_misc", dir.c_str(), "binfmt_misc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
              nullptr) != 0) {
    int err = errno;
    throw Error(describe(
        "mount binfmt_misc at", dir.string(),
        std::string(std::strerror(err)) + (err == EPERM ? " (setup-binfmt needs root)" : "")));
  }
}

using Outcome = BinfmtReport::Outcome;

BinfmtReport report(const std::string& platform, Outcome outcome, const std::string& what) {
  return BinfmtReport{.platform = platform, .outcome = outcome, .text = platform + ": " + what};
}

/// setup-binfmt for one platform; binfmt_misc is mounted (or `options.dry_run`).
BinfmtReport setup_one(const std::string& platform, const SetupBinfmtOptions& options) {
  const BinfmtPaths& paths = options.paths;
  oci::Platform p = oci::parse_platform(platform);
  if (p.os != "linux") return report(platform, Outcome::kUnknown, "only linux is emulated");
  if (runs_natively(p.architecture, oci::host_platform().architecture)) {
    return report(platform, Outcome::kNative, "runs natively on this host, nothing to register");
  }
  auto qemu = qemu_name(p.architecture);
  if (!qemu) {
    return report(platform, Outcome::kUnknown,
                  "mkimg knows no QEMU emulator for " + p.architecture);
  }
  std::string entry_name = "qemu-" + *qemu;
  auto registration = find_registration(paths, *qemu);
  if (!registration) {
    return report(platform, Outcome::kMissing,
                  "no registration for " + entry_name + " in " + conf_path(paths, *qemu).string() +
                      ": " + kInstall);
  }
  std::string done = entry_name + " (" + registration->interpreter + ")";
  if (auto text = read_if_present(paths.binfmt / entry_name)) {
    BinfmtEntry entry = parse_binfmt_entry(*text);
    if (!entry.fix_binary()) {
      return report(platform, Outcome::kWithoutFixBinary,
                    entry_name +
                        " is registered without the F (fix binary) flag, so its "
                        "interpreter is not found inside a container's root; " +
                        re_register_fix(paths, entry_name));
    }
    if (entry.enabled)
      return report(platform, Outcome::kAlreadyRegistered, "already registered " + done);
    if (!options.dry_run) write_control(paths.binfmt / entry_name, "1");
    return report(platform, Outcome::kEnabled,
                  (options.dry_run ? "would enable " : "enabled ") + done);
  }
  std::error_code ec;
  if (!fs::exists(registration->interpreter, ec)) {
    return report(platform, Outcome::kMissing,
                  "the interpreter " + registration->interpreter + " is missing: " + kInstall);
  }
  std::string line = registration->line;
  if (registration->flags.find('F') == std::string::npos) line += "F";
  if (!options.dry_run && !write_control(paths.binfmt / "register", line)) {
    return setup_one(platform, options);  // registered meanwhile: say how it is now
  }
  return report(platform, Outcome::kRegistered,
                (options.dry_run ? "would register " : "registered ") + done);
}

}  // namespace

std::optional<std::string> qemu_name(const std::string& architecture) {
  for (const auto& [oci_name, qemu] : qemu_names()) {
    if (oci_name == architecture) return qemu;
  }
  return std::nullopt;
}

std::vector<std::string> emulated_architectures() {
  std::vector<std::string> out;
  for (const auto& entry : qemu_names()) out.push_back(entry.first);
  return out;
}

bool runs_natively(const std::string& architecture, const std::string& host) {
  return architecture == host || (host == "amd64" && architecture == "386") ||
         (host == "arm64" && architecture == "arm");
}

BinfmtEntry parse_binfmt_entry(std::string_view text) {
  BinfmtEntry entry;
  bool first = true;
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (first) entry.enabled = line == "enabled";
    first = false;
    if (line.rfind("interpreter ", 0) == 0) entry.interpreter = line.substr(12);
    if (line.rfind("flags:", 0) == 0) {
      std::string_view flags = line.substr(6);
      while (!flags.empty() && flags.front() == ' ') flags.remove_prefix(1);
      entry.flags = flags;
    }
  }
  return entry;
}

std::vector<BinfmtRegistration> parse_binfmt_conf(std::string_view text) {
  std::vector<BinfmtRegistration> out;
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    // :name:type:offset:magic:mask:interpreter:flags, split at the first character.
    std::vector<std::string_view> fields;
    char sep = line.front();
    for (std::string_view rest = line.substr(1);;) {
      size_t at = rest.find(sep);
      fields.push_back(rest.substr(0, at));
      if (at == std::string_view::npos) break;
      rest = rest.substr(at + 1);
    }
    if (fields.size() < 7 || fields[0].empty()) continue;
    out.push_back(BinfmtRegistration{.line = std::string(line),
                                     .name = std::string(fields[0]),
                                     .interpreter = std::string(fields[5]),
                                     .flags = std::string(fields[6])});
  }
  return out;
}

std::optional<std::string> cannot_run(const std::string& os, const std::string& architecture,
                                      const BinfmtPaths& paths) {
  if (!os.empty() && os != "linux") return "only linux images run here, not " + os;
  std::string host = oci::host_platform().architecture;
  if (architecture.empty() || runs_natively(architecture, host)) return std::nullopt;
  std::string head =
      "cannot run programs for linux/" + architecture + " on this " + host + " host: ";
  auto qemu = qemu_name(architecture);
  if (!qemu) return head + "mkimg knows no QEMU emulator for " + architecture;
  std::string entry_name = "qemu-" + *qemu;
  if (!binfmt_mounted(paths.binfmt)) {
    return head + "binfmt_misc is not mounted at " + paths.binfmt.string() +
           ", so no emulator is registered; " + setup_fix(paths, *qemu) +
           " (it mounts binfmt_misc and registers QEMU's emulators)";
  }
  auto text = read_if_present(paths.binfmt / entry_name);
  if (!text) {
    return head + "no emulator is registered for it (no " + (paths.binfmt / entry_name).string() +
           "); " + setup_fix(paths, *qemu);
  }
  BinfmtEntry entry = parse_binfmt_entry(*text);
  if (!entry.fix_binary()) {
    return head + entry_name + " is registered without the F (fix binary) flag, so its " +
           "interpreter " + entry.interpreter + " would be looked for inside the container's " +
           "root, where it does not exist; " + re_register_fix(paths, entry_name);
  }
  if (!entry.enabled) {
    return head + entry_name + " is registered but disabled; run `mkimg setup-binfmt` as root " +
           "to enable it";
  }
  return std::nullopt;
}

SetupBinfmtResult setup_binfmt(const SetupBinfmtOptions& options) {
  const BinfmtPaths& paths = options.paths;
  std::error_code ec;
  bool any_conf = false;
  for (fs::directory_iterator it(paths.confs, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.rfind("qemu-", 0) == 0 && it->path().extension() == ".conf") any_conf = true;
  }
  if (!any_conf) {
    throw Error(describe("set up", "binfmt_misc",
                         "no QEMU registrations in " + paths.confs.string() + ": " + kInstall));
  }
  SetupBinfmtResult result;
  if (!binfmt_mounted(paths.binfmt)) {
    if (!options.dry_run) mount_binfmt(paths.binfmt);
    result.mount = "binfmt_misc: " + std::string(options.dry_run ? "would mount" : "mounted") +
                   " at " + paths.binfmt.string();
  }
  std::vector<std::string> platforms = options.platforms;
  if (platforms.empty()) {
    std::string host = oci::host_platform().architecture;
    for (const auto& architecture : emulated_architectures()) {
      if (runs_natively(architecture, host)) continue;
      if (find_registration(paths, *qemu_name(architecture))) {
        platforms.push_back("linux/" + architecture);
      }
    }
  }
  for (const auto& platform : platforms) result.platforms.push_back(setup_one(platform, options));
  return result;
}

}  // namespace mkimg::runtime
