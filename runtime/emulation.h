// Programs of another architecture: whether a platform's programs run here, natively (the
// host's own architecture, 386 on amd64, arm on arm64) or through QEMU's user emulation
// registered with binfmt_misc; and `mkimg setup-binfmt`, which mounts binfmt_misc and registers
// Debian's qemu-user-static interpreters (the lines of /usr/lib/binfmt.d/qemu-<arch>.conf).
//
// A RUN for a platform that cannot run is an error naming the fix, never a silent run of the
// wrong binaries. An emulator must be registered with the F (fix binary) flag: the kernel then
// opens the interpreter once, at registration, and finds it in any root; without F it looks the
// interpreter's path up inside the container's root, where it does not exist.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mkimg::runtime {

inline constexpr const char* kBinfmtDir = "/proc/sys/fs/binfmt_misc";
inline constexpr const char* kBinfmtConfDir = "/usr/lib/binfmt.d";

/// Where binfmt_misc is mounted and where the registration files are; tests use their own.
struct BinfmtPaths {
  std::filesystem::path binfmt = kBinfmtDir;     ///< binfmt_misc: register, status, entries
  std::filesystem::path confs = kBinfmtConfDir;  ///< qemu-<name>.conf (qemu-user-static)
};

/// QEMU's name of an OCI architecture: arm64 -> aarch64, arm (any variant) -> arm, 386 -> i386,
/// mips64le -> mips64el, loong64 -> loongarch64, ...; nullopt when mkimg knows none.
std::optional<std::string> qemu_name(const std::string& architecture);

/// The OCI architectures qemu_name() knows, in a fixed order.
std::vector<std::string> emulated_architectures();

/// Whether a `host` runs programs of `architecture` without emulation: its own, 386 on amd64,
/// arm on arm64.
bool runs_natively(const std::string& architecture, const std::string& host);

/// One entry of binfmt_misc (the text of /proc/sys/fs/binfmt_misc/qemu-aarch64).
struct BinfmtEntry {
  bool enabled = false;     ///< first line "enabled" (else "disabled")
  std::string interpreter;  ///< "interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P"
  std::string flags;        ///< "flags: POF" -> "POF"
  /// F: the interpreter was opened at registration, so it runs inside any root.
  bool fix_binary() const { return flags.find('F') != std::string::npos; }
};
BinfmtEntry parse_binfmt_entry(std::string_view text);

/// One registration line of a binfmt.d file, ":name:type:offset:magic:mask:interpreter:flags"
/// (the first character is the separator).
struct BinfmtRegistration {
  std::string line;  ///< as written to binfmt_misc's register file
  std::string name, interpreter, flags;
};
/// The registration lines of a binfmt.d file's text; comments (#, ;) and blank lines skipped,
/// a line with fewer than seven fields ignored.
std::vector<BinfmtRegistration> parse_binfmt_conf(std::string_view text);

/// Empty when programs of os/architecture run here; else why not and the fix (`mkimg
/// setup-binfmt`, `apt-get install qemu-user-static`).
std::optional<std::string> cannot_run(const std::string& os, const std::string& architecture,
                                      const BinfmtPaths& paths = {});

/// What `mkimg setup-binfmt` did for one platform.
struct BinfmtReport {
  enum class Outcome {
    kRegistered,         ///< the conf's line written to register (or would be: dry run)
    kAlreadyRegistered,  ///< enabled, with F: left alone
    kEnabled,            ///< registered with F but disabled: enabled
    kNative,             ///< the host runs it without emulation
    kWithoutFixBinary,   ///< registered without F: reported, left alone
    kMissing,            ///< no conf or no interpreter: qemu-user-static is needed
    kUnknown,            ///< not linux, or an architecture mkimg knows no QEMU name for
  };
  std::string platform;  ///< as asked: "linux/arm/v7"
  Outcome outcome = Outcome::kUnknown;
  std::string text;  ///< the line to print: "linux/arm64: registered qemu-aarch64 (...)"
  bool ok() const { return outcome <= Outcome::kNative; }
};

struct SetupBinfmtOptions {
  /// os/arch[/variant] each; empty: every foreign architecture of emulated_architectures()
  /// that has a conf.
  std::vector<std::string> platforms;
  bool dry_run = false;  ///< say what would be done, change nothing
  BinfmtPaths paths;
};

struct SetupBinfmtResult {
  std::string mount;  ///< "" when binfmt_misc was mounted already; else the line to print
  std::vector<BinfmtReport> platforms;
};

/// `mkimg setup-binfmt`: mounts binfmt_misc when it is not (mount(2), root), then registers
/// each platform's qemu-<name> from its conf with the F flag. Throws mkimg::Error naming the
/// package when qemu-user-static is not installed at all, or when mounting or writing fails.
SetupBinfmtResult setup_binfmt(const SetupBinfmtOptions& options);

}  // namespace mkimg::runtime
