#include "runtime/container_runtime.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <vector>

#include "common/copy_data.h"
#include "common/error.h"
#include "common/fd.h"
#include "common/parallel.h"
#include "common/process.h"
#include "oci/store.h"
#include "runtime/cancel.h"
#include "runtime/overlay_mount.h"

namespace mkimg::runtime {

namespace {

constexpr std::size_t kKeepLines = 20;

/// What every container id of this process starts with: "mkimg-<pid>-".
std::string own_id_prefix() { return "mkimg-" + std::to_string(::getpid()) + "-"; }
const char* const kSystemDirs[] = {"/usr/sbin", "/usr/bin",        "/sbin",
                                   "/bin",      "/usr/local/sbin", "/usr/local/bin"};

std::optional<std::filesystem::path> find_system_binary(const std::string& name) {
  for (const char* dir : kSystemDirs) {
    std::filesystem::path p = std::filesystem::path(dir) / name;
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  return std::nullopt;
}

/// Starts the runtime with SIGINT/SIGTERM back to their defaults and no fd of ours but `out`,
/// which gets stdout and stderr unless it is Redirect::inherit(), and `hold_fd` (as fd 3);
/// stdin is `in`.
Process spawn(const std::vector<std::string>& argv, Redirect out, Redirect in = Redirect::null(),
              int hold_fd = -1) {
  SpawnOptions o;
  o.argv = argv;
  o.default_signals = {SIGINT, SIGTERM};
  o.close_other_fds = true;
  o.pass_fd = hold_fd;
  o.in = std::move(in);
  if (out.kind != Redirect::Kind::kInherit) {
    o.out = std::move(out);
    o.err = Redirect::to_stdout();
  }
  return Process::spawn(o);
}

/// Runs argv quietly and returns its exit status (-1 when it cannot start).
int run_quiet(const std::vector<std::string>& argv) {
  try {
    ExitStatus s = spawn(argv, Redirect::null()).wait();
    return s.exited() ? s.code : -1;
  } catch (const Error&) {
    return -1;
  }
}

constexpr const char* kProbeMemoHeader = "mkimg-runtime-probe 1";
constexpr std::size_t kProbeMemoMaxBytes = 64 * 1024;
constexpr std::size_t kProbeMemoMaxEntries = 16;

/// "<dev>:<ino>:<size>:<mtime>:<ctime> <absolute path>" of the file `binary` resolves to;
/// nothing when it is not a regular file or its path cannot be a memo line.
std::optional<std::string> probe_key(const std::filesystem::path& binary) {
  struct stat st {};
  if (::stat(binary.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  std::error_code ec;
  std::string path = std::filesystem::absolute(binary, ec).string();
  if (ec || path.find('\n') != std::string::npos) return std::nullopt;
  return fmt::format("{}:{}:{}:{}.{:09}:{}.{:09} {}", st.st_dev, st.st_ino, st.st_size,
                     st.st_mtim.tv_sec, st.st_mtim.tv_nsec, st.st_ctim.tv_sec, st.st_ctim.tv_nsec,
                     path);
}

/// The memo's entries (keys); a missing, oversized or foreign file has none.
std::vector<std::string> read_probe_memo(const std::filesystem::path& file) {
  UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return {};
  std::string data;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    data.append(buf, static_cast<std::size_t>(n));
    if (data.size() > kProbeMemoMaxBytes) return {};
  }
  std::vector<std::string> entries;
  std::istringstream in(data);
  std::string line;
  if (!std::getline(in, line) || line != kProbeMemoHeader) return {};
  while (std::getline(in, line)) {
    if (!line.empty()) entries.push_back(line);
  }
  return entries;
}

/// Records `key` (replacing the entries of the same path): a temp file in <root>/tmp renamed
/// over the memo. Not fsynced (a lost memo only means asking again); failures are ignored.
void remember_probe(const oci::Store& store, const std::string& key) {
  std::filesystem::path file = store.cache_dir() / "runtime-probe";
  std::string path = key.substr(key.find(' ') + 1);
  std::vector<std::string> entries;
  for (auto& e : read_probe_memo(file)) {
    if (e.substr(e.find(' ') + 1) != path) entries.push_back(std::move(e));
  }
  entries.push_back(key);
  if (entries.size() > kProbeMemoMaxEntries) {
    entries.erase(entries.begin(), entries.end() - kProbeMemoMaxEntries);
  }
  std::string text = std::string(kProbeMemoHeader) + "\n";
  for (const auto& e : entries) text += e + "\n";
  std::filesystem::path tmp = store.temp_path("runtime-probe");
  try {
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!fd) throw sys_error("create", tmp.string());
    write_fd_data(fd.get(), text, tmp.string());
    fd.reset();
    if (::rename(tmp.c_str(), file.c_str()) != 0) throw sys_error("rename", tmp.string());
  } catch (const Error& e) {
    spdlog::debug("runtime probe memo {} not written: {}", file.string(), e.what());
    ::unlink(tmp.c_str());
  }
}

/// Whether `binary` answers `--version`; an unchanged binary that answered before (the
/// store's memo says so) is not started again.
bool answers(const std::filesystem::path& binary, const oci::Store* store) {
  std::optional<std::string> key = store ? probe_key(binary) : std::nullopt;
  if (key) {
    for (const auto& e : read_probe_memo(store->cache_dir() / "runtime-probe")) {
      if (e == *key && ::access(binary.c_str(), X_OK) == 0) {
        spdlog::debug("runtime {} answered before (probe memo)", binary.string());
        return true;
      }
    }
  }
  if (run_quiet({binary.string(), "--version"}) != 0) return false;
  if (key) remember_probe(*store, *key);
  return true;
}

/// Kills and deletes the container unless `runc run` exited with status 0 (it then has
/// destroyed the container itself: `run` without --keep deletes it), so a successful step
/// costs no extra runtime invocations.
class ContainerGuard {
 public:
  ContainerGuard(const ContainerRuntime& rt, const ContainerRun& run) : rt_(rt), run_(run) {}
  ContainerGuard(const ContainerGuard&) = delete;
  ContainerGuard& operator=(const ContainerGuard&) = delete;
  ~ContainerGuard() {
    if (runtime_exited_) return;
    run_quiet({rt_.binary.string(), "--root", run_.state_root.string(), "kill", run_.id, "KILL"});
    run_quiet(
        {rt_.binary.string(), "--root", run_.state_root.string(), "delete", "--force", run_.id});
  }
  /// `status` is how the runtime process ended.
  void runtime_ended(const ExitStatus& status) {
    bool cancelled = run_.cancel != nullptr && run_.cancel->load();
    runtime_exited_ = status.exited() && status.code == 0 && !interrupted() && !cancelled;
  }

 private:
  const ContainerRuntime& rt_;
  const ContainerRun& run_;
  bool runtime_exited_ = false;
};

void push_line(ContainerResult& result, const ContainerRun& run, std::string line) {
  if (run.on_line) run.on_line(line);
  result.last_lines.push_back(std::move(line));
  if (result.last_lines.size() > kKeepLines) result.last_lines.pop_front();
}

bool stop_requested(const ContainerRun& run) {
  return interrupted() || (run.cancel != nullptr && run.cancel->load());
}

/// Reads the pipe until EOF, forwarding whole lines; kills the container on interrupt or
/// cancel and then returns true.
bool pump(int fd, const ContainerRuntime& rt, const ContainerRun& run, ContainerResult& result) {
  std::string pending;
  char buf[8192];
  bool killed = false;
  for (;;) {
    if (stop_requested(run) && !killed) {
      run_quiet({rt.binary.string(), "--root", run.state_root.string(), "kill", run.id, "KILL"});
      killed = true;
    }
    struct pollfd p {
      fd, POLLIN, 0
    };
    int r = ::poll(&p, 1, 200);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) continue;
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(buf, static_cast<std::size_t>(n));
    for (std::size_t pos; (pos = pending.find('\n')) != std::string::npos;) {
      push_line(result, run, pending.substr(0, pos));
      pending.erase(0, pos + 1);
    }
  }
  if (!pending.empty()) push_line(result, run, pending);
  return killed;
}

/// The reaper of this process's containers: a shell in a session of its own that reads a pipe
/// whose write end only this process holds. When the process ends, by SIGKILL too, the read
/// sees end-of-file and the shell deletes (`delete --force` kills first) every container of
/// this process still in the state root, so none outlives mkimg (the runtime neither passes a
/// parent-death signal on to the container nor stops it when it is killed itself). At a
/// normal end there is none left and the shell just exits. A container whose id lacks this
/// process's prefix (`mkimg run --name`) is announced on the pipe: "+id" when it starts, "-id"
/// once it is gone (the name may then be another process's).
constexpr const char* kReaperScript =
    "names=\n"
    "while read -r line; do\n"
    "  case $line in\n"
    "    +*) names=\"$names ${line#+}\" ;;\n"
    "    -*) kept=; for n in $names; do [ \"$n\" = \"${line#-}\" ] || kept=\"$kept $n\"; done\n"
    "        names=$kept ;;\n"
    "  esac\n"
    "done\n"
    "for state in \"$2\"/\"$3\"*; do\n"
    "  [ -d \"$state\" ] && \"$1\" --root \"$2\" delete --force \"${state##*/}\"\n"
    "done >/dev/null 2>&1\n"
    "for n in $names; do\n"
    "  [ -d \"$2/$n\" ] && \"$1\" --root \"$2\" delete --force \"$n\"\n"
    "done >/dev/null 2>&1\n";

/// Writes one line to the reaper's pipe. SIGPIPE is held back meanwhile: a reaper that was
/// killed must not take mkimg with it (the container then has only clear_leftovers()).
void tell_reaper(int fd, const std::string& line) {
  sigset_t pipe_signal, old;
  sigemptyset(&pipe_signal);
  sigaddset(&pipe_signal, SIGPIPE);
  ::pthread_sigmask(SIG_BLOCK, &pipe_signal, &old);
  ssize_t n;
  do {
    n = ::write(fd, line.data(), line.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    const int err = errno;
    spdlog::debug("the container reaper did not take `{}`: {}", line, std::strerror(err));
    if (err == EPIPE) {
      struct timespec now {};
      ::sigtimedwait(&pipe_signal, nullptr, &now);  // the SIGPIPE that write raised
    }
  }
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

/// A container id of another form than this process's own, announced to the reaper for the
/// container's life (declared before the ContainerGuard, so it is withdrawn after the guard
/// deleted the container).
class ReaperNotice {
 public:
  ReaperNotice(int reaper_fd, const std::string& id)
      : fd_(id.starts_with(own_id_prefix()) ? -1 : reaper_fd), id_(id) {
    if (fd_ >= 0) tell_reaper(fd_, "+" + id_ + "\n");
  }
  ReaperNotice(const ReaperNotice&) = delete;
  ReaperNotice& operator=(const ReaperNotice&) = delete;
  ~ReaperNotice() {
    if (fd_ >= 0) tell_reaper(fd_, "-" + id_ + "\n");
  }

 private:
  int fd_;
  std::string id_;
};

/// What names a reaper: the runtime and the state root.
std::string reaper_key(const ContainerRuntime& rt, const std::filesystem::path& state_root) {
  return rt.binary.string() + '\0' + state_root.string();
}

/// Starts the reaper of `state_root`'s containers once per runtime and state root (holding
/// `hold_fd` when it is not -1), and returns the write end of its pipe. The reapers and their
/// pipes are never closed by us: the end of the process closes them.
struct Reaper {
  Process process;
  UniqueFd write_end;
};
std::mutex reapers_mutex;
auto* reapers = new std::map<std::string, Reaper>;  // never destroyed, on purpose

int ensure_reaper(const ContainerRuntime& rt, const std::filesystem::path& state_root,
                  int hold_fd) {
  std::string key = reaper_key(rt, state_root);
  std::lock_guard lock(reapers_mutex);
  if (auto found = reapers->find(key); found != reapers->end())
    return found->second.write_end.get();
  SpawnOptions o;
  o.argv = {"/bin/sh",           "-c",           kReaperScript, "mkimg-reaper", rt.binary.string(),
            state_root.string(), own_id_prefix()};
  o.in = Redirect::pipe();
  o.out = Redirect::null();
  o.err = Redirect::null();
  o.close_other_fds = true;
  o.pass_fd = hold_fd;
  o.new_session = true;
  Process p = Process::spawn(o, "start the container reaper");
  UniqueFd write_end = std::move(p.in());
  int fd = write_end.get();
  reapers->emplace(key, Reaper{std::move(p), std::move(write_end)});
  return fd;
}

/// Tells the guard how the runtime ended; returns its exit code (128+signal when killed).
int finished(ContainerGuard& guard, const ExitStatus& status) {
  guard.runtime_ended(status);
  return status.shell_code();
}

}  // namespace

ContainerRuntime find_runtime(std::string_view choice, const oci::Store* store) {
  std::vector<std::string> names;
  if (choice.empty() || choice == "auto") {
    names = {"runc", "crun"};
  } else if (choice.find('/') != std::string_view::npos) {
    std::filesystem::path p(choice);
    if (!answers(p, store)) {
      throw Error(describe("find runtime", choice,
                           "it does not run (`" + p.string() + " --version` failed)"));
    }
    return {p, p.filename().string()};
  } else {
    names = {std::string(choice)};
  }
  for (const auto& name : names) {
    auto p = find_system_binary(name);
    if (p && answers(*p, store)) return {*p, name};
  }
  std::string wanted = names.size() == 1 ? names[0] : "runc or crun";
  throw Error(describe("find runtime", wanted,
                       "no working OCI runtime found; install the Debian package `" +
                           (names.size() == 1 ? names[0] : std::string("runc")) +
                           "` (apt-get install runc)"));
}

void start_reaper(Background& beside, const ContainerRuntime& runtime,
                  const std::filesystem::path& state_root) {
  {
    std::lock_guard lock(reapers_mutex);
    if (reapers->contains(reaper_key(runtime, state_root))) return;
  }
  beside.run([runtime, state_root] { ensure_reaper(runtime, state_root, -1); });
}

ContainerResult run_container(const ContainerRuntime& runtime, const ContainerRun& run) {
  // A container is not started once the build is stopping (its root took a while to unpack).
  if (interrupted()) throw Error(describe("run", run.id, "interrupted"));
  if (stop_requested(run)) {
    throw Error(describe("run", run.id, "cancelled: another stage of the build failed"));
  }
  std::vector<std::string> argv{
      runtime.binary.string(), "--root", run.state_root.string(), "run", "--bundle",
      run.bundle.string(),     run.id};
  spdlog::debug("runtime: {}", fmt::join(argv, " "));
  ReaperNotice notice(ensure_reaper(runtime, run.state_root, run.hold_fd), run.id);
  ContainerResult result;
  ContainerGuard guard(runtime, run);
  if (run.stdio == Stdio::kInherit) {
    Redirect in = run.attach_stdin ? Redirect::inherit() : Redirect::null();
    result.exit_code =
        finished(guard, spawn(argv, Redirect::inherit(), std::move(in), run.hold_fd).wait());
  } else {
    Process p = spawn(argv, Redirect::pipe(), Redirect::null(), run.hold_fd);
    bool killed = pump(p.out().get(), runtime, run, result);
    result.exit_code = finished(guard, p.wait());
    if (killed && !interrupted()) {
      throw Error(describe("run", run.id, "cancelled: another stage of the build failed"));
    }
  }
  if (interrupted()) throw Error(describe("run", run.id, "interrupted"));
  return result;
}

std::filesystem::path state_root(const std::filesystem::path& store_tmp) {
  return store_tmp / "runtime-state";
}

void clear_leftovers(const std::filesystem::path& store_tmp) {
  std::filesystem::path states = state_root(store_tmp);
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(states, ec)) {
    std::string id = entry.path().filename().string();
    for (const char* name : {"runc", "crun"}) {
      auto binary = find_system_binary(name);
      if (binary &&
          run_quiet({binary->string(), "--root", states.string(), "delete", "--force", id}) == 0) {
        spdlog::debug("deleted the leftover container {}", id);
        break;
      }
    }
  }
  detach_mounts_below(store_tmp);
}

bool delete_container(const ContainerRuntime& runtime, const std::filesystem::path& state_root,
                      const std::string& id) {
  return run_quiet({runtime.binary.string(), "--root", state_root.string(), "delete", "--force",
                    id}) == 0;
}

std::string new_container_id() {
  static std::atomic<unsigned> counter{0};
  std::random_device rd;
  return own_id_prefix() + std::to_string(counter++) + "-" + std::to_string(rd() % 100000);
}

}  // namespace mkimg::runtime
