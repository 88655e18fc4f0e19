// The OCI runtime bundle of one RUN step or `mkimg run`: the config.json runc or crun reads,
// and the files of a bundle (written plainly: a bundle is thrown away when its step ends). Also
// the values of docker's container flags that end up in a bundle, parsed as docker parses them:
// `--ulimit` (process.rlimits), `--add-host` (lines of the /etc/hosts a bundle binds) and
// `--shm-size`'s default.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include "common/network_mode.h"

namespace mkimg::runtime {

/// One bind mount into the container (a generated /etc/hosts, a cache or a context dir, a
/// host path of `mkimg run -v`).
struct BindMount {
  std::filesystem::path source;  ///< host path, already resolved and safe
  std::string destination;       ///< absolute path inside the container
  enum class Access { kReadOnly, kReadWrite } access = Access::kReadOnly;
};

/// One resource limit of the process (`--ulimit`), as OCI's `process.rlimits` holds it.
struct Rlimit {
  std::string type;        ///< "RLIMIT_NOFILE", "RLIMIT_NPROC", ...
  std::uint64_t soft = 0;  ///< kUnlimited for docker's -1
  std::uint64_t hard = 0;
  bool operator==(const Rlimit&) const = default;
};

/// RLIM_INFINITY, what docker's `-1` means in a `--ulimit`.
inline constexpr std::uint64_t kUnlimited = ~std::uint64_t{0};

/// /dev/shm's size when none is asked: 64 MiB, as Docker's.
inline constexpr std::uint64_t kDefaultShmSize = std::uint64_t{64} << 20;

/// One `--add-host`: the line "IP<TAB>NAME" of the container's /etc/hosts.
struct HostEntry {
  std::string name;
  std::string ip;  ///< as given (without the brackets of `[::1]`)
  bool operator==(const HostEntry&) const = default;
};

/// Everything that varies between two RUN steps; the rest of config.json is fixed defaults
/// matching `runc spec` and Docker's (capabilities, masked paths, /proc, /dev, /sys ...).
struct BundleSpec {
  std::filesystem::path rootfs;   ///< the merged overlay mount
  std::vector<std::string> args;  ///< argv of the process
  std::vector<std::string> env;   ///< KEY=VALUE
  std::string cwd = "/";
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> additional_gids;
  std::string hostname = "mkimg";
  NetworkMode network = NetworkMode::kHost;
  std::vector<BindMount> binds;    ///< after the default mounts, in order
  std::vector<std::string> tmpfs;  ///< tmpfs mounts (RUN --mount=type=tmpfs), after the binds
  /// Resource limits over the default one (RLIMIT_NOFILE 1048576 as Docker's, or this
  /// process's hard limit when that is lower): an entry replaces the default of its type.
  std::vector<Rlimit> rlimits;
  std::uint64_t shm_size = kDefaultShmSize;  ///< bytes of the /dev/shm tmpfs (`--shm-size`)
  /// Lines added to the /etc/hosts the caller writes with hosts_file() and binds (`--add-host`).
  std::vector<HostEntry> extra_hosts;
  /// `RUN --security=insecure` granted by `--allow security.insecure`: as `docker run
  /// --privileged` (what BuildKit's insecure mode is), every capability, no masked or read-only
  /// /proc paths, /sys writable.
  bool privileged = false;
  /// The process gets a pseudo-terminal (`mkimg run -t`): the runtime, run in the foreground,
  /// connects it to the terminal it was started on. RUN steps never have one.
  bool terminal = false;
};

/// The default mounts' destinations (/proc, /dev, ...): the build removes the stubs that the
/// runtime creates for them in the upper directory.
std::vector<std::string> default_mount_destinations();

/// Docker's default capability set for containers.
const std::vector<std::string>& default_capabilities();

/// A privileged process's set: every capability (CAP_CHOWN .. CAP_CHECKPOINT_RESTORE) that
/// this process's bounding set holds, as containerd's WithPrivileged (BuildKit's insecure mode)
/// takes the current capabilities: the runtime cannot grant more.
std::vector<std::string> privileged_capabilities();

/// config.json text for `spec` (OCI runtime spec 1.0.2).
std::string bundle_config_json(const BundleSpec& spec);

/// The /etc/hosts of a container of `spec`: localhost (with spec.hostname) for IPv4 and IPv6,
/// then spec.extra_hosts in order, one "IP<TAB>NAME" line each (as BuildKit writes them).
std::string hosts_file(const BundleSpec& spec);

/// docker's `--ulimit NAME=SOFT[:HARD]`: NAME one of docker's (core, cpu, data, fsize, locks,
/// memlock, msgqueue, nice, nofile, nproc, rss, rtprio, rttime, sigpending, stack), the limits
/// decimal integers, -1 for unlimited, HARD = SOFT when left out, SOFT <= HARD. Throws
/// mkimg::Error "--ulimit `TEXT`: why".
Rlimit parse_ulimit(std::string_view text);

/// Why this process cannot give a container `limit`, nullopt when it can (runc would fail the
/// container with EPERM): an RLIMIT_NOFILE above the kernel's /proc/sys/fs/nr_open, or, without
/// root of the initial user namespace, a hard limit above mkimg's own.
std::optional<std::string> cannot_grant(const Rlimit& limit);

/// docker's `--add-host NAME:IP` or `NAME=IP`: the first `=`, else the first `:`, ends the name
/// (so `NAME:::1` is an IPv6 address); the IP is IPv4 or IPv6, optionally in brackets
/// (`NAME:[::1]`). The name is letters, digits, `.`, `-` and `_` (nothing that could add a word
/// or a line to /etc/hosts). `host-gateway` is refused: a RUN shares the host's network, so the
/// host is 127.0.0.1 to it already. Throws mkimg::Error "--add-host `TEXT`: why".
HostEntry parse_add_host(std::string_view text);

/// Creates the new file `path` of a bundle holding `data`, with exactly `mode`. Neither fsynced
/// nor renamed into place: the runtime reads it from the page cache, the bundle lives in
/// <root>/tmp only while its step runs, and after a crash tmp/ is cleared at start-up. Throws
/// mkimg::Error naming the path.
void write_bundle_file(const std::filesystem::path& path, std::string_view data,
                       mode_t mode = 0644);

}  // namespace mkimg::runtime
