#include "runtime/bundle_config.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/copy_data.h"
#include "common/error.h"
#include "common/fd.h"
#include "common/user_namespace.h"

namespace mkimg::runtime {
namespace {

using json = nlohmann::json;

json mount(const char* dest, const char* type, const char* source, std::vector<std::string> opts) {
  return json{{"destination", dest}, {"type", type}, {"source", source}, {"options", opts}};
}

json default_mounts(NetworkMode network, bool privileged) {
  json m = json::array();
  m.push_back(mount("/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}));
  m.push_back(
      mount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}));
  m.push_back(mount("/dev/pts", "devpts", "devpts",
                    {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}));
  m.push_back(
      mount("/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}));
  m.push_back(mount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}));
  // In a user namespace sysfs cannot be mounted over the host's network namespace (not ours):
  // the host's /sys is bound read-only, as runc's rootless spec does. A network namespace of
  // the container's own (--network none) is ours, and gets its own sysfs.
  if (in_user_namespace() && network != NetworkMode::kNone) {
    m.push_back(mount("/sys", "none", "/sys", {"rbind", "nosuid", "noexec", "nodev", "ro"}));
  } else {
    m.push_back(
        mount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", privileged ? "rw" : "ro"}));
  }
  return m;
}

json bind_mount(const BindMount& b) {
  std::vector<std::string> opts{"rbind", "nosuid", "nodev"};
  opts.push_back(b.access == BindMount::Access::kReadOnly ? "ro" : "rw");
  return json{{"destination", b.destination},
              {"type", "bind"},
              {"source", b.source.string()},
              {"options", opts}};
}

json process(const BundleSpec& spec) {
  const auto caps = spec.privileged ? privileged_capabilities() : default_capabilities();
  // Docker's default is 1048576; never more than this process may grant.
  struct rlimit rl {};
  rlim_t nofile = 1048576;
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max < nofile) nofile = rl.rlim_max;
  json user{{"uid", spec.uid}, {"gid", spec.gid}};
  if (!spec.additional_gids.empty()) user["additionalGids"] = spec.additional_gids;
  return json{
      {"terminal", spec.terminal},
      {"user", user},
      {"args", spec.args},
      {"env", spec.env},
      {"cwd", spec.cwd.empty() ? "/" : spec.cwd},
      {"capabilities", {{"bounding", caps}, {"effective", caps}, {"permitted", caps}}},
      {"rlimits", json::array({{{"type", "RLIMIT_NOFILE"}, {"hard", nofile}, {"soft", nofile}}})},
      {"noNewPrivileges", false}};
}

json namespaces(NetworkMode network) {
  json ns = json::array();
  for (const char* t : {"pid", "ipc", "uts", "mount"}) ns.push_back({{"type", t}});
  if (network == NetworkMode::kNone) ns.push_back({{"type", "network"}});
  return ns;
}

json linux_section(const BundleSpec& spec) {
  if (spec.privileged) return json{{"namespaces", namespaces(spec.network)}};
  return json{{"namespaces", namespaces(spec.network)},
              {"maskedPaths",
               {"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
                "/sys/firmware", "/sys/devices/virtual/powercap"}},
              {"readonlyPaths",
               {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}}};
}

}  // namespace

std::vector<std::string> default_mount_destinations() {
  return {"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys"};
}

const std::vector<std::string>& default_capabilities() {
  static const std::vector<std::string> caps{
      "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
      "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
      "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
      "CAP_KILL",    "CAP_AUDIT_WRITE"};
  return caps;
}

std::vector<std::string> privileged_capabilities() {
  // In capability number order: the index is the number PR_CAPBSET_READ asks about.
  static const std::vector<std::string> all{"CAP_CHOWN",
                                            "CAP_DAC_OVERRIDE",
                                            "CAP_DAC_READ_SEARCH",
                                            "CAP_FOWNER",
                                            "CAP_FSETID",
                                            "CAP_KILL",
                                            "CAP_SETGID",
                                            "CAP_SETUID",
                                            "CAP_SETPCAP",
                                            "CAP_LINUX_IMMUTABLE",
                                            "CAP_NET_BIND_SERVICE",
                                            "CAP_NET_BROADCAST",
                                            "CAP_NET_ADMIN",
                                            "CAP_NET_RAW",
                                            "CAP_IPC_LOCK",
                                            "CAP_IPC_OWNER",
                                            "CAP_SYS_MODULE",
                                            "CAP_SYS_RAWIO",
                                            "CAP_SYS_CHROOT",
                                            "CAP_SYS_PTRACE",
                                            "CAP_SYS_PACCT",
                                            "CAP_SYS_ADMIN",
                                            "CAP_SYS_BOOT",
                                            "CAP_SYS_NICE",
                                            "CAP_SYS_RESOURCE",
                                            "CAP_SYS_TIME",
                                            "CAP_SYS_TTY_CONFIG",
                                            "CAP_MKNOD",
                                            "CAP_LEASE",
                                            "CAP_AUDIT_WRITE",
                                            "CAP_AUDIT_CONTROL",
                                            "CAP_SETFCAP",
                                            "CAP_MAC_OVERRIDE",
                                            "CAP_MAC_ADMIN",
                                            "CAP_SYSLOG",
                                            "CAP_WAKE_ALARM",
                                            "CAP_BLOCK_SUSPEND",
                                            "CAP_AUDIT_READ",
                                            "CAP_PERFMON",
                                            "CAP_BPF",
                                            "CAP_CHECKPOINT_RESTORE"};
  std::vector<std::string> held;
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (::prctl(PR_CAPBSET_READ, static_cast<unsigned long>(i), 0, 0, 0) == 1) {
      held.push_back(all[i]);
    }
  }
  return held;
}

std::string bundle_config_json(const BundleSpec& spec) {
  json mounts = default_mounts(spec.network, spec.privileged);
  for (const auto& b : spec.binds) mounts.push_back(bind_mount(b));
  for (const auto& t : spec.tmpfs) {
    mounts.push_back(json{{"destination", t},
                          {"type", "tmpfs"},
                          {"source", "tmpfs"},
                          {"options", {"nosuid", "nodev", "mode=1777"}}});
  }
  json config{{"ociVersion", "1.0.2-dev"},
              {"process", process(spec)},
              {"root", {{"path", spec.rootfs.string()}, {"readonly", false}}},
              {"hostname", spec.hostname},
              {"mounts", mounts},
              {"linux", linux_section(spec)}};
  return config.dump(1);
}

void write_bundle_file(const std::filesystem::path& path, std::string_view data, mode_t mode) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) throw sys_error("write", path.string());
  write_fd_data(fd.get(), data, path.string());
  if (::fchmod(fd.get(), mode) != 0) throw sys_error("chmod", path.string());
}

}  // namespace mkimg::runtime
