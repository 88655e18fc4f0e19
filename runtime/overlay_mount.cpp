#include "runtime/overlay_mount.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/mount.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/fd.h"
#include "common/user_namespace.h"

namespace mkimg::runtime {
namespace {

// Overlay unescapes backslashes in layer paths; escape the characters it treats specially.
std::string escape(const std::string& path) {
  std::string out;
  for (char c : path) {
    if (c == ':' || c == ',' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

/// The kernel's messages queued on an fs context ("e overlayfs: ..."), joined.
std::string context_log(int fsfd) {
  std::string out;
  char buf[512];
  for (;;) {
    ssize_t n = ::read(fsfd, buf, sizeof buf - 1);
    if (n <= 0) break;
    if (!out.empty()) out += "; ";
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

/// Whether the running kernel is at least `want_major`.`want_minor`.
bool kernel_at_least(int want_major, int want_minor) {
  struct utsname u {};
  if (::uname(&u) != 0) return false;
  int major = 0, minor = 0;
  if (std::sscanf(u.release, "%d.%d", &major, &minor) != 2) return false;
  return major > want_major || (major == want_major && minor >= want_minor);
}

/// Whether the running kernel is at least 6.8 (overlay's `lowerdir+`). Kernels before 6.5
/// pass unknown overlay parameters through the legacy adapter and only fail at create, so
/// the version decides first.
bool kernel_has_lowerdir_plus() { return kernel_at_least(6, 8); }

/// Whether overlay knows `volatile` (5.10).
bool kernel_has_volatile() { return kernel_at_least(5, 10); }

enum class NewApiResult { kMounted, kUnsupported };

Error new_api_error(const char* step, const std::filesystem::path& merged, int fsfd, int err) {
  std::string log = fsfd >= 0 ? context_log(fsfd) : "";
  std::string cause = std::string(step) + ": " + std::strerror(err);
  if (!log.empty()) cause += " (" + log + ")";
  return Error(describe("mount overlay", merged.string(), cause));
}

/// Mounts with fsopen + one `lowerdir+` per layer; kUnsupported when the kernel has no
/// fsopen or no lowerdir+ (before 6.8), before anything was mounted.
NewApiResult mount_new_api(const std::vector<std::filesystem::path>& lowers,
                           const std::filesystem::path& upper, const std::filesystem::path& work,
                           const std::filesystem::path& merged, bool allow_fallback) {
  if (allow_fallback && !kernel_has_lowerdir_plus()) return NewApiResult::kUnsupported;
  UniqueFd fs(::fsopen("overlay", FSOPEN_CLOEXEC));
  if (fs.get() < 0) {
    if (allow_fallback && (errno == ENOSYS || errno == EPERM)) return NewApiResult::kUnsupported;
    throw new_api_error("fsopen", merged, -1, errno);
  }
  // lowerdir+ takes the path as it is; upperdir and workdir are unescaped by overlay.
  auto set = [&](const char* key, const std::filesystem::path& value) {
    std::string v = std::string(key) == "lowerdir+" ? value.string() : escape(value.string());
    return ::fsconfig(fs.get(), FSCONFIG_SET_STRING, key, v.c_str(), 0);
  };
  bool first = true;
  for (const auto& l : lowers) {
    if (set("lowerdir+", l) != 0) {
      int err = errno;
      if (first && allow_fallback && err == EINVAL) {
        std::string log = context_log(fs.get());
        // An unknown parameter on an old kernel; a bad directory says so in the log.
        if (log.find("lowerdir+") != std::string::npos || log.empty())
          return NewApiResult::kUnsupported;
      }
      throw new_api_error(("lowerdir+ " + l.string()).c_str(), merged, fs.get(), err);
    }
    first = false;
  }
  if (set("upperdir", upper) != 0) throw new_api_error("upperdir", merged, fs.get(), errno);
  if (set("workdir", work) != 0) throw new_api_error("workdir", merged, fs.get(), errno);
  if (::fsconfig(fs.get(), FSCONFIG_SET_FLAG, "volatile", nullptr, 0) != 0)
    throw new_api_error("volatile", merged, fs.get(), errno);
  if (in_user_namespace() && ::fsconfig(fs.get(), FSCONFIG_SET_FLAG, "userxattr", nullptr, 0) != 0)
    throw new_api_error("userxattr", merged, fs.get(), errno);
  if (::fsconfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0)
    throw new_api_error("create", merged, fs.get(), errno);
  UniqueFd mnt(::fsmount(fs.get(), FSMOUNT_CLOEXEC, 0));
  if (mnt.get() < 0) throw new_api_error("fsmount", merged, fs.get(), errno);
  if (::move_mount(mnt.get(), "", AT_FDCWD, merged.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0)
    throw new_api_error("move_mount", merged, -1, errno);
  return NewApiResult::kMounted;
}

/// mount(2) with a short option string: symlinks 0..n-1 (lowers), u (upper), w (work) in a
/// temporary directory next to `work`, resolved by a child process whose cwd is that
/// directory. The links are removed afterwards (overlay holds the resolved directories).
void mount_legacy(const std::vector<std::filesystem::path>& lowers,
                  const std::filesystem::path& upper, const std::filesystem::path& work,
                  const std::filesystem::path& merged) {
  std::filesystem::path links = work.string() + ".links";
  std::filesystem::remove_all(links);
  std::filesystem::create_directories(links);
  struct Cleanup {
    std::filesystem::path dir;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } cleanup{links};
  std::string lowerdir;
  for (std::size_t i = 0; i < lowers.size(); ++i) {
    std::filesystem::create_directory_symlink(std::filesystem::absolute(lowers[i]),
                                              links / std::to_string(i));
    if (!lowerdir.empty()) lowerdir += ':';
    lowerdir += std::to_string(i);
  }
  std::filesystem::create_directory_symlink(std::filesystem::absolute(upper), links / "u");
  std::filesystem::create_directory_symlink(std::filesystem::absolute(work), links / "w");
  std::string options = "lowerdir=" + lowerdir + ",upperdir=u,workdir=w";
  if (kernel_has_volatile()) options += ",volatile";
  if (in_user_namespace()) options += ",userxattr";
  if (options.size() >= 4096) {
    throw Error(describe("mount overlay", merged.string(), "option string too long"));
  }
  std::string target = std::filesystem::absolute(merged).string();
  std::string dir = links.string();
  pid_t pid = ::fork();
  if (pid < 0) throw sys_error("fork for mount overlay", merged.string());
  if (pid == 0) {
    // Only async-signal-safe calls between fork and _exit.
    if (::chdir(dir.c_str()) != 0) ::_exit(errno & 0x7f);
    if (::mount("overlay", target.c_str(), "overlay", 0, options.c_str()) != 0)
      ::_exit(errno & 0x7f);
    ::_exit(0);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw sys_error("wait for mount overlay", merged.string());
  }
  if (!WIFEXITED(status)) {
    throw Error(describe("mount overlay", merged.string(), "the mounting process died"));
  }
  if (WEXITSTATUS(status) != 0) {
    throw sys_error("mount overlay", merged.string(), WEXITSTATUS(status));
  }
}

}  // namespace

OverlayMount::OverlayMount(const std::vector<std::filesystem::path>& lowers,
                           const std::filesystem::path& empty_lower,
                           const std::filesystem::path& upper, const std::filesystem::path& work,
                           const std::filesystem::path& merged, OverlayApi api)
    : merged_(merged) {
  if (lowers.size() > kMaxOverlayLowers) {
    throw Error(describe("mount overlay", merged.string(),
                         std::to_string(lowers.size()) + " layers; overlay stacks at most " +
                             std::to_string(kMaxOverlayLowers) +
                             " (merge RUN steps to use fewer layers)"));
  }
  std::vector<std::filesystem::path> stack = lowers;
  if (stack.empty()) stack.push_back(empty_lower);
  if (api != OverlayApi::kLegacy &&
      mount_new_api(stack, upper, work, merged, api == OverlayApi::kAuto) ==
          NewApiResult::kMounted) {
    api_ = OverlayApi::kNewApi;
  } else {
    mount_legacy(stack, upper, work, merged);
    api_ = OverlayApi::kLegacy;
  }
  mounted_ = true;
  if (spdlog::should_log(spdlog::level::debug)) {
    std::string lowerdir;
    for (const auto& l : stack) lowerdir += (lowerdir.empty() ? "" : ":") + l.string();
    bool volatile_upper = api_ == OverlayApi::kNewApi || kernel_has_volatile();
    spdlog::debug("overlay mount {} ({}): lowerdir={},upperdir={},workdir={}{}", merged.string(),
                  api_ == OverlayApi::kNewApi ? "fsopen, lowerdir+" : "mount(2), short links",
                  lowerdir, upper.string(), work.string(), volatile_upper ? ",volatile" : "");
  }
}

OverlayMount::~OverlayMount() {
  if (mounted_ && ::umount2(merged_.c_str(), 0) != 0) ::umount2(merged_.c_str(), MNT_DETACH);
}

// Stages run on several threads: a child another thread has just forked (to start runc) holds
// a copy of every fd of the process, one opened in this root among them, until it execs; the
// mount is busy for that moment. So a busy unmount is retried for a while, then detached (the
// step's own processes are gone by then: nothing writes to the upper directory any more).
void OverlayMount::unmount() {
  if (!mounted_) return;
  constexpr int kAttempts = 200;
  for (int attempt = 1; ::umount2(merged_.c_str(), 0) != 0; ++attempt) {
    if (errno != EBUSY) throw sys_error("unmount", merged_.string());
    if (attempt == kAttempts) {
      if (::umount2(merged_.c_str(), MNT_DETACH) != 0) throw sys_error("unmount", merged_.string());
      break;
    }
    ::usleep(10'000);
  }
  mounted_ = false;
}

namespace {

/// A mount point as /proc/self/mountinfo spells it, with its octal escapes (\040 for a space,
/// \011, \012, \134) undone.
std::string unescape_mount_point(const std::string& field) {
  std::string out;
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      std::string digits = field.substr(i + 1, 3);
      if (digits.find_first_not_of("01234567") == std::string::npos) {
        out.push_back(static_cast<char>(std::stoi(digits, nullptr, 8)));
        i += 3;
        continue;
      }
    }
    out.push_back(field[i]);
  }
  return out;
}

}  // namespace

void detach_mounts_below(const std::filesystem::path& dir) {
  std::string prefix = dir.lexically_normal().string();
  std::ifstream in("/proc/self/mountinfo");
  std::vector<std::string> points;
  for (std::string line; std::getline(in, line);) {
    // "id parent major:minor root mount-point options ..."
    std::istringstream fields(line);
    std::string id, parent, device, root, point;
    if (!(fields >> id >> parent >> device >> root >> point)) continue;
    point = unescape_mount_point(point);
    if (point.size() > prefix.size() && point.starts_with(prefix) && point[prefix.size()] == '/') {
      points.push_back(point);
    }
  }
  // The deepest first, so a mount inside another is detached before the one holding it.
  std::sort(points.begin(), points.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  for (const auto& point : points) {
    if (::umount2(point.c_str(), MNT_DETACH) == 0) {
      spdlog::debug("detached the leftover mount {}", point);
    } else {
      spdlog::warn("{}", sys_error("detach the leftover mount", point).what());
    }
  }
}

}  // namespace mkimg::runtime
