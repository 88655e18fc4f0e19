#include "runtime/bundle_config.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <nlohmann/json.hpp>
#include <optional>

#include "common/copy_data.h"
#include "common/error.h"
#include "common/fd.h"
#include "common/in_root.h"
#include "common/user_namespace.h"

namespace mkimg::runtime {
namespace {

using json = nlohmann::json;

json mount(const char* dest, const char* type, const char* source, std::vector<std::string> opts) {
  return json{{"destination", dest}, {"type", type}, {"source", source}, {"options", opts}};
}

/// tmpfs's size= option: in KiB when it is a whole number of them (the default reads
/// "size=65536k", as runc's spec), else in bytes.
std::string size_option(std::uint64_t bytes) {
  if (bytes % 1024 == 0) return "size=" + std::to_string(bytes / 1024) + "k";
  return "size=" + std::to_string(bytes);
}

json default_mounts(NetworkMode network, bool privileged, std::uint64_t shm_size) {
  json m = json::array();
  m.push_back(mount("/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}));
  m.push_back(
      mount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}));
  m.push_back(mount("/dev/pts", "devpts", "devpts",
                    {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}));
  m.push_back(mount("/dev/shm", "tmpfs", "shm",
                    {"nosuid", "noexec", "nodev", "mode=1777", size_option(shm_size)}));
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

/// The default limit (Docker's RLIMIT_NOFILE of 1048576, never more than this process may
/// grant), then spec.rlimits, each replacing the default of its type.
json rlimits(const BundleSpec& spec) {
  struct rlimit rl {};
  rlim_t nofile = 1048576;
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max < nofile) nofile = rl.rlim_max;
  std::vector<Rlimit> all{{"RLIMIT_NOFILE", nofile, nofile}};
  for (const auto& r : spec.rlimits) {
    std::erase_if(all, [&](const Rlimit& d) { return d.type == r.type; });
    all.push_back(r);
  }
  json out = json::array();
  for (const auto& r : all) out.push_back({{"type", r.type}, {"hard", r.hard}, {"soft", r.soft}});
  return out;
}

json process(const BundleSpec& spec) {
  const auto caps = spec.privileged ? privileged_capabilities() : default_capabilities();
  json user{{"uid", spec.uid}, {"gid", spec.gid}};
  if (!spec.additional_gids.empty()) user["additionalGids"] = spec.additional_gids;
  return json{{"terminal", spec.terminal},
              {"user", user},
              {"args", spec.args},
              {"env", spec.env},
              {"cwd", spec.cwd.empty() ? "/" : spec.cwd},
              {"capabilities", {{"bounding", caps}, {"effective", caps}, {"permitted", caps}}},
              {"rlimits", rlimits(spec)},
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
  json mounts = default_mounts(spec.network, spec.privileged, spec.shm_size);
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

std::string hosts_file(const BundleSpec& spec) {
  std::string text =
      "127.0.0.1\tlocalhost " + spec.hostname + "\n::1\tlocalhost ip6-localhost ip6-loopback\n";
  for (const auto& h : spec.extra_hosts) text += h.ip + "\t" + h.name + "\n";
  return text;
}

namespace {

/// docker's --ulimit names (go-units' ulimitNameMapping; "as" is not one of them).
constexpr std::array<std::pair<std::string_view, const char*>, 15> kUlimitNames{{
    {"core", "RLIMIT_CORE"},
    {"cpu", "RLIMIT_CPU"},
    {"data", "RLIMIT_DATA"},
    {"fsize", "RLIMIT_FSIZE"},
    {"locks", "RLIMIT_LOCKS"},
    {"memlock", "RLIMIT_MEMLOCK"},
    {"msgqueue", "RLIMIT_MSGQUEUE"},
    {"nice", "RLIMIT_NICE"},
    {"nofile", "RLIMIT_NOFILE"},
    {"nproc", "RLIMIT_NPROC"},
    {"rss", "RLIMIT_RSS"},
    {"rtprio", "RLIMIT_RTPRIO"},
    {"rttime", "RLIMIT_RTTIME"},
    {"sigpending", "RLIMIT_SIGPENDING"},
    {"stack", "RLIMIT_STACK"},
}};

/// One limit of a --ulimit: a decimal integer >= 0, or -1 (unlimited).
std::uint64_t ulimit_value(std::string_view text, std::string_view value) {
  if (value == "-1") return kUnlimited;
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (value.empty() || ec != std::errc() || end != value.data() + value.size()) {
    throw Error(
        describe("--ulimit", text,
                 "`" + std::string(value) + "` is not a limit (a number, or -1 for unlimited)"));
  }
  return n;
}

bool is_ip(const std::string& ip) {
  unsigned char buf[sizeof(struct in6_addr)];
  return ::inet_pton(AF_INET, ip.c_str(), buf) == 1 || ::inet_pton(AF_INET6, ip.c_str(), buf) == 1;
}

bool is_host_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
  });
}

}  // namespace

Rlimit parse_ulimit(std::string_view text) {
  auto eq = text.find('=');
  if (eq == std::string_view::npos) {
    throw Error(describe("--ulimit", text, "expected NAME=SOFT[:HARD] (as nofile=1024:2048)"));
  }
  std::string_view name = text.substr(0, eq);
  auto known = std::find_if(kUlimitNames.begin(), kUlimitNames.end(),
                            [&](const auto& n) { return n.first == name; });
  if (known == kUlimitNames.end()) {
    std::string names;
    for (const auto& n : kUlimitNames) names += (names.empty() ? "" : ", ") + std::string(n.first);
    throw Error(
        describe("--ulimit", text, "unknown limit `" + std::string(name) + "` (" + names + ")"));
  }
  std::string_view limits = text.substr(eq + 1);
  auto colon = limits.find(':');
  Rlimit r;
  r.type = known->second;
  r.soft = ulimit_value(text, limits.substr(0, colon));
  r.hard = colon == std::string_view::npos ? r.soft : ulimit_value(text, limits.substr(colon + 1));
  if (r.soft > r.hard) {
    throw Error(describe("--ulimit", text, "the soft limit is above the hard limit"));
  }
  return r;
}

std::optional<std::string> cannot_grant(const Rlimit& limit) {
  static const std::pair<const char*, int> kResources[] = {
      {"RLIMIT_CORE", RLIMIT_CORE},         {"RLIMIT_CPU", RLIMIT_CPU},
      {"RLIMIT_DATA", RLIMIT_DATA},         {"RLIMIT_FSIZE", RLIMIT_FSIZE},
      {"RLIMIT_LOCKS", RLIMIT_LOCKS},       {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
      {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
      {"RLIMIT_NOFILE", RLIMIT_NOFILE},     {"RLIMIT_NPROC", RLIMIT_NPROC},
      {"RLIMIT_RSS", RLIMIT_RSS},           {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
      {"RLIMIT_RTTIME", RLIMIT_RTTIME},     {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
      {"RLIMIT_STACK", RLIMIT_STACK}};
  auto shown = [](std::uint64_t v) {
    return v == kUnlimited ? std::string("unlimited") : std::to_string(v);
  };
  if (limit.type == "RLIMIT_NOFILE") {
    // The kernel's ceiling for open files, root or not.
    std::uint64_t nr_open = 0;
    try {
      std::string text = read_host_file("/proc/sys/fs/nr_open");
      std::from_chars(text.data(), text.data() + text.size(), nr_open);
    } catch (const std::exception&) {
    }
    if (nr_open > 0 && limit.hard > nr_open) {
      return "a hard limit of " + shown(limit.hard) + " open files is above the kernel's " +
             std::to_string(nr_open) + " (/proc/sys/fs/nr_open)";
    }
  }
  // Only root of the initial user namespace (CAP_SYS_RESOURCE) raises a hard limit.
  if (::geteuid() == 0 && !in_user_namespace()) return std::nullopt;
  for (const auto& [type, resource] : kResources) {
    if (limit.type != type) continue;
    struct rlimit own {};
    if (::getrlimit(resource, &own) != 0 || own.rlim_max == RLIM_INFINITY) return std::nullopt;
    if (limit.hard > own.rlim_max) {
      return "a hard limit of " + shown(limit.hard) + " is above mkimg's own " +
             std::to_string(own.rlim_max) + ", which only root may raise";
    }
  }
  return std::nullopt;
}

HostEntry parse_add_host(std::string_view text) {
  auto cut = text.find('=');
  if (cut == std::string_view::npos) cut = text.find(':');
  if (cut == std::string_view::npos) {
    throw Error(describe("--add-host", text, "expected NAME:IP or NAME=IP"));
  }
  HostEntry h{std::string(text.substr(0, cut)), std::string(text.substr(cut + 1))};
  if (!is_host_name(h.name)) {
    throw Error(describe("--add-host", text,
                         "`" + h.name + "` is not a host name (letters, digits, '.', '-', '_')"));
  }
  if (h.ip == "host-gateway") {
    throw Error(describe("--add-host", text,
                         "host-gateway is not supported: RUN steps share the host's network, so "
                         "the host is 127.0.0.1 (or ::1) to them; give an IP"));
  }
  if (h.ip.size() > 2 && h.ip.front() == '[' && h.ip.back() == ']')
    h.ip = h.ip.substr(1, h.ip.size() - 2);
  if (!is_ip(h.ip)) {
    throw Error(describe("--add-host", text, "`" + h.ip + "` is not an IPv4 or IPv6 address"));
  }
  return h;
}

void write_bundle_file(const std::filesystem::path& path, std::string_view data, mode_t mode) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) throw sys_error("write", path.string());
  write_fd_data(fd.get(), data, path.string());
  if (::fchmod(fd.get(), mode) != 0) throw sys_error("chmod", path.string());
}

}  // namespace mkimg::runtime
