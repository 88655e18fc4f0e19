// The OCI runtime bundle of one RUN step or `mkimg run`: the config.json runc or crun reads,
// and the files of a bundle (written plainly: a bundle is thrown away when its step ends).
#pragma once

#include <sys/types.h>

#include <filesystem>
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

/// Creates the new file `path` of a bundle holding `data`, with exactly `mode`. Neither fsynced
/// nor renamed into place: the runtime reads it from the page cache, the bundle lives in
/// <root>/tmp only while its step runs, and after a crash tmp/ is cleared at start-up. Throws
/// mkimg::Error naming the path.
void write_bundle_file(const std::filesystem::path& path, std::string_view data,
                       mode_t mode = 0644);

}  // namespace mkimg::runtime
