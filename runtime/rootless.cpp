#include "runtime/rootless.h"

#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>

#include "common/copy_data.h"
#include "common/error.h"
#include "common/fd.h"
#include "common/in_root.h"
#include "common/process.h"

namespace mkimg::runtime {
namespace {

/// What is kept of newuidmap's words and of the helper's report.
constexpr std::size_t kMaxSaid = 64 * 1024;

constexpr const char* kSetupHint =
    "as root, e.g. `usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {}` "
    "(README: Without root)";

std::string user_name(uid_t uid) {
  if (const passwd* pw = ::getpwuid(uid)) return pw->pw_name;
  return std::to_string(uid);
}

/// The user's range in `file` (/etc/subuid or /etc/subgid), or an Error saying how to add one.
SubIdRange range_of(const char* file, const std::string& name, unsigned long id) {
  std::string text;
  try {
    text = read_host_file(file);
  } catch (const std::exception&) {
  }
  if (auto r = find_subid_range(text, name, id)) return *r;
  std::string hint = kSetupHint;
  hint.replace(hint.find("{}"), 2, name);
  throw Error(describe(
      "build without root", name,
      std::string("no subordinate ids for the user in ") + file + ": add a range, " + hint));
}

/// newuidmap or newgidmap on PATH, or an Error naming the package.
std::string find_tool(const char* tool) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + tool;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  throw Error(describe("build without root", tool,
                       "not found on PATH: install the uidmap package (`apt-get install uidmap`)"));
}

/// Starts `tool pid 0 id 1 1 start count` (newuidmap or newgidmap), its stderr on a pipe.
Process start_map(const std::string& tool, pid_t pid, unsigned long id, SubIdRange r) {
  SpawnOptions o;
  o.argv = {tool,
            std::to_string(pid),
            "0",
            std::to_string(id),
            "1",
            "1",
            std::to_string(r.start),
            std::to_string(r.count)};
  o.err = Redirect::pipe();
  o.out = Redirect::null();
  return Process::spawn(o, "run");
}

/// Waits for a started map tool: its error (with the tool's own words), or "".
std::string finish_map(const std::string& tool, Process& p) {
  std::string said = read_fd_data(p.err().get(), kMaxSaid);
  if (p.wait().code == 0) return "";
  struct stat st {};
  bool privileged = ::stat(tool.c_str(), &st) == 0 && (st.st_mode & S_ISUID) != 0;
  if (said.empty()) said = "failed";
  said.erase(said.find_last_not_of('\n') + 1);
  if (!privileged) {
    said += " (it needs its setuid bit or file capabilities: reinstall the uidmap package)";
  }
  return describe("run", tool, said);
}

/// Forks the helper that maps the ids of this process once it has unshared (the helper stays
/// in the initial namespace, where newuidmap's privilege counts). Returns its pid; `go` starts
/// it, `report` carries its error text back.
pid_t start_mapper(int go, int go_write, int report, uid_t uid, gid_t gid, SubIdRange uids,
                   SubIdRange gids) {
  pid_t parent = ::getpid();
  std::string uidmap = find_tool("newuidmap");
  std::string gidmap = find_tool("newgidmap");
  pid_t pid = ::fork();
  if (pid < 0) throw sys_error("fork", "newuidmap helper");
  if (pid > 0) return pid;
  ::close(go_write);  // EOF on `go` if the parent gives up before unsharing
  char byte = 0;
  std::string error = "user namespace not created";
  if (::read(go, &byte, 1) == 1) {
    try {
      // Both at once: each is a setuid program that reads /etc/login.defs and its file.
      Process u = start_map(uidmap, parent, uid, uids);
      Process g = start_map(gidmap, parent, gid, gids);
      error = finish_map(uidmap, u);
      std::string gid_error = finish_map(gidmap, g);
      if (error.empty()) error = gid_error;
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  if (!error.empty() && ::write(report, error.data(), error.size()) < 0) ::_exit(2);
  ::_exit(error.empty() ? 0 : 1);
}

Error unshare_error(int err) {
  std::string cause = std::strerror(err);
  if (err == ENOSPC) cause += " (the limit user.max_user_namespaces is 0 or reached)";
  if (err == EPERM || err == ENOSPC || err == EINVAL) {
    cause +=
        ": unprivileged user namespaces are off here; allow them (as root) with `sysctl "
        "user.max_user_namespaces=15000`, on older Debian kernels `sysctl "
        "kernel.unprivileged_userns_clone=1`, under AppArmor (Ubuntu 23.10+) `sysctl "
        "kernel.apparmor_restrict_unprivileged_userns=0`";
  }
  return Error(describe("create", "user namespace", cause));
}

}  // namespace

std::optional<SubIdRange> find_subid_range(std::string_view file_text, std::string_view name,
                                           unsigned long id) {
  std::istringstream in{std::string(file_text)};
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string who, start, count;
    if (!std::getline(fields, who, ':') || !std::getline(fields, start, ':') ||
        !std::getline(fields, count)) {
      continue;
    }
    if (who != name && who != std::to_string(id)) continue;
    char* end = nullptr;
    SubIdRange r{std::strtoul(start.c_str(), &end, 10), 0};
    if (start.empty() || *end != '\0') continue;
    r.count = std::strtoul(count.c_str(), &end, 10);
    if (count.empty() || *end != '\0' || r.count == 0) continue;
    return r;
  }
  return std::nullopt;
}

void enter_user_namespace() {
  uid_t uid = ::getuid();
  gid_t gid = ::getgid();
  std::string name = user_name(uid);
  SubIdRange uids = range_of("/etc/subuid", name, uid);
  SubIdRange gids = range_of("/etc/subgid", name, uid);
  int go[2], report[2];
  if (::pipe2(go, O_CLOEXEC) != 0 || ::pipe2(report, O_CLOEXEC) != 0) {
    throw sys_error("create", "pipe");
  }
  UniqueFd go_read(go[0]), go_write(go[1]), report_read(report[0]), report_write(report[1]);
  pid_t helper =
      start_mapper(go_read.get(), go_write.get(), report_write.get(), uid, gid, uids, gids);
  report_write.reset();
  int err = ::unshare(CLONE_NEWUSER | CLONE_NEWNS) == 0 ? 0 : errno;
  if (err == 0 && ::write(go_write.get(), "g", 1) != 1) err = errno;
  go_write.reset();
  std::string said = read_fd_data(report_read.get(), kMaxSaid);
  int status = 0;
  while (::waitpid(helper, &status, 0) < 0 && errno == EINTR) {
  }
  if (err != 0) throw unshare_error(err);
  if (!said.empty() || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw Error(describe("build without root", name, said.empty() ? "id mapping failed" : said));
  }
  if (::setresgid(0, 0, 0) != 0) throw sys_error("setresgid", "0");
  if (::setresuid(0, 0, 0) != 0) throw sys_error("setresuid", "0");
  if (::setgroups(0, nullptr) != 0) throw sys_error("setgroups", "0");
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    throw sys_error("make mounts private", "/");
  }
}

}  // namespace mkimg::runtime
