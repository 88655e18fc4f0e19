// Starting a program and waiting for it: the one way mkimg (the OCI runtime, credential
// helpers) and its tests start a child. posix_spawn does the work, so the child runs no code
// of ours between fork and exec (safe in a threaded process) and a program that cannot be
// started is an Error in the parent, not an exit status 127.
//
//   SpawnOptions o;
//   o.argv = {"/usr/bin/runc", "--version"};
//   o.out = Redirect::pipe();
//   Process p = Process::spawn(o);
//   ... read p.out() to EOF ...
//   ExitStatus s = p.wait();
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/fd.h"

extern char** environ;

namespace mkimg {

/// Where one standard stream of a child goes.
struct Redirect {
  enum class Kind {
    kInherit,   ///< the parent's own stream
    kNull,      ///< /dev/null
    kFd,        ///< a copy of `fd`, which the caller keeps owning
    kFile,      ///< `path` opened in the child with `flags` and `mode`
    kPipe,      ///< a new pipe; the parent's end is Process::in()/out()/err()
    kToStdout,  ///< (stderr only) wherever stdout went
  };
  Kind kind = Kind::kInherit;
  int fd = -1;
  std::filesystem::path path;
  int flags = 0;
  mode_t mode = 0600;

  static Redirect inherit() { return {}; }
  static Redirect null() { return {Kind::kNull}; }
  static Redirect to_fd(int fd) { return {Kind::kFd, fd}; }
  static Redirect file(std::filesystem::path path, int flags, mode_t mode = 0600) {
    return {Kind::kFile, -1, std::move(path), flags, mode};
  }
  static Redirect pipe() { return {Kind::kPipe}; }
  static Redirect to_stdout() { return {Kind::kToStdout}; }
};

/// What to start and how.
struct SpawnOptions {
  std::vector<std::string> argv;           ///< argv[0] is a path, or a name when search_path
  bool search_path = false;                ///< look argv[0] up in the parent's PATH (execvp)
  std::map<std::string, std::string> env;  ///< set over the parent's environment
  std::filesystem::path cwd;     ///< empty: the parent's; Redirect::file paths are opened before
  Redirect in, out, err;         ///< stdin, stdout, stderr
  bool close_other_fds = false;  ///< close every fd above 2 (close_range)
  /// With close_other_fds: this fd of the caller's reaches the child as its fd 3, the one
  /// kept open (a lock the child must hold until it ends); -1: none.
  int pass_fd = -1;
  std::vector<int> default_signals;  ///< signals reset to SIG_DFL in the child
  bool new_session = false;  ///< the child leads a session of its own (setsid): a signal to the
                             ///< caller's process group or terminal does not reach it
};

/// How a child ended.
struct ExitStatus {
  int code = -1;   ///< the exit code; -1 when killed or when it could not be waited for
  int signal = 0;  ///< the signal that killed it, else 0

  bool exited() const { return signal == 0 && code >= 0; }
  /// The exit code, or 128+signal as a shell reports it (-1 when it could not be waited for).
  int shell_code() const { return signal != 0 ? 128 + signal : code; }

  static ExitStatus from_wait(int status) {
    if (WIFSIGNALED(status)) return {-1, WTERMSIG(status)};
    return {WEXITSTATUS(status), 0};
  }
};

/// A started child. Move-only; a child still running when this goes is killed and reaped.
class Process {
 public:
  Process() = default;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  Process(Process&& o) noexcept { *this = std::move(o); }
  Process& operator=(Process&& o) noexcept {
    if (this != &o) {
      kill();
      pid_ = std::exchange(o.pid_, -1);
      status_ = o.status_;
      in_ = std::move(o.in_);
      out_ = std::move(o.out_);
      err_ = std::move(o.err_);
    }
    return *this;
  }
  ~Process() { kill(); }

  /// Starts the child. Throws Error "verb `argv[0]`: cause" when it cannot be started.
  static Process spawn(const SpawnOptions& o, std::string_view verb = "start") {
    if (o.argv.empty()) throw Error(describe(verb, "", "no program given"));
    const std::string& name = o.argv[0];
    Process p;
    Actions actions;
    UniqueFd child_ends[3];
    const Redirect* redirects[3] = {&o.in, &o.out, &o.err};
    UniqueFd* parent_ends[3] = {&p.in_, &p.out_, &p.err_};
    for (int target = 0; target < 3; ++target) {
      int rc = add_redirect(actions, target, *redirects[target], child_ends[target],
                            *parent_ends[target], name);
      if (rc != 0) throw sys_error(verb, name, rc);
    }
    add_settings(actions, o, verb, name);
    std::vector<char*> args;
    for (const auto& a : o.argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    Environment env(o.env);
    int rc =
        o.search_path
            ? ::posix_spawnp(&p.pid_, args[0], &actions.a, &actions.attr, args.data(), env.envp())
            : ::posix_spawn(&p.pid_, args[0], &actions.a, &actions.attr, args.data(), env.envp());
    if (rc != 0) {
      p.pid_ = -1;
      throw sys_error(verb, name, rc);
    }
    return p;
  }

  pid_t pid() const { return pid_; }

  /// The parent's ends of Redirect::pipe() streams (invalid otherwise); reset() to close.
  UniqueFd& in() { return in_; }
  UniqueFd& out() { return out_; }
  UniqueFd& err() { return err_; }

  /// Waits for the end (retrying on EINTR); once reaped, returns the same status again.
  ExitStatus wait() {
    if (pid_ > 0) {
      int status = 0;
      pid_t r;
      while ((r = ::waitpid(pid_, &status, 0)) < 0 && errno == EINTR) {
      }
      status_ = r < 0 ? ExitStatus{} : ExitStatus::from_wait(status);
      pid_ = -1;
    }
    return status_;
  }

  /// True while the child runs; reaps it (keeping its status for wait()) once it has ended.
  bool running() {
    if (pid_ <= 0) return false;
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == 0) return true;
    status_ = r < 0 ? ExitStatus{} : ExitStatus::from_wait(status);
    pid_ = -1;
    return false;
  }

  /// Sends `sig`; false when the child is already reaped or the signal could not be sent.
  bool signal(int sig) { return pid_ > 0 && ::kill(pid_, sig) == 0; }

  /// SIGKILL and reap; a no-op once reaped.
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    wait();
  }

 private:
  struct Actions;

  /// Sets up stdin, stdout or stderr (`target`) of the child; a pipe's ends go to
  /// `child_end` (closed in the parent once spawned) and `parent_end`. Returns an errno.
  static int add_redirect(Actions& actions, int target, const Redirect& r, UniqueFd& child_end,
                          UniqueFd& parent_end, const std::string& name) {
    switch (r.kind) {
      case Redirect::Kind::kInherit:
        return 0;
      case Redirect::Kind::kNull:
        return posix_spawn_file_actions_addopen(&actions.a, target, "/dev/null",
                                                target == 0 ? O_RDONLY : O_WRONLY, 0);
      case Redirect::Kind::kFd:
        return posix_spawn_file_actions_adddup2(&actions.a, r.fd, target);
      case Redirect::Kind::kFile:
        return posix_spawn_file_actions_addopen(&actions.a, target, r.path.c_str(), r.flags,
                                                r.mode);
      case Redirect::Kind::kPipe: {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0) throw sys_error("create pipe for", name);
        UniqueFd read_end(fds[0]), write_end(fds[1]);
        child_end = target == 0 ? std::move(read_end) : std::move(write_end);
        parent_end = target == 0 ? std::move(write_end) : std::move(read_end);
        return posix_spawn_file_actions_adddup2(&actions.a, child_end.get(), target);
      }
      case Redirect::Kind::kToStdout:
        return posix_spawn_file_actions_adddup2(&actions.a, 1, target);
    }
    return 0;
  }

  /// The working directory, closing other fds and the signals reset in the child.
  static void add_settings(Actions& actions, const SpawnOptions& o, std::string_view verb,
                           const std::string& name) {
    if (!o.cwd.empty()) {
      int rc = posix_spawn_file_actions_addchdir_np(&actions.a, o.cwd.c_str());
      if (rc != 0) throw sys_error(verb, name, rc);
    }
    if (o.close_other_fds) {
      int rc = 0;
      if (o.pass_fd >= 0) rc = posix_spawn_file_actions_adddup2(&actions.a, o.pass_fd, 3);
      if (rc == 0)
        rc = posix_spawn_file_actions_addclosefrom_np(&actions.a, o.pass_fd >= 0 ? 4 : 3);
      if (rc != 0) throw sys_error(verb, name, rc);
    }
    short flags = 0;
    if (!o.default_signals.empty()) {
      sigset_t set;
      sigemptyset(&set);
      for (int s : o.default_signals) sigaddset(&set, s);
      posix_spawnattr_setsigdefault(&actions.attr, &set);
      flags |= POSIX_SPAWN_SETSIGDEF;
    }
    if (o.new_session) flags |= POSIX_SPAWN_SETSID;
    if (flags != 0) posix_spawnattr_setflags(&actions.attr, flags);
  }

  /// The child's environment: the parent's with `set` over it (the parent's own when empty).
  class Environment {
   public:
    explicit Environment(const std::map<std::string, std::string>& set) {
      if (set.empty()) return;
      for (char** e = environ; *e != nullptr; ++e) {
        std::string_view entry(*e);
        if (!set.contains(std::string(entry.substr(0, entry.find('='))))) envp_.push_back(*e);
      }
      for (const auto& [k, v] : set) strings_.push_back(k + "=" + v);
      for (auto& s : strings_) envp_.push_back(s.data());
      envp_.push_back(nullptr);
    }
    char** envp() { return envp_.empty() ? environ : envp_.data(); }

   private:
    std::vector<std::string> strings_;
    std::vector<char*> envp_;
  };

  /// posix_spawn's file actions and attributes, destroyed on every path.
  struct Actions {
    posix_spawn_file_actions_t a;
    posix_spawnattr_t attr;
    Actions() {
      posix_spawn_file_actions_init(&a);
      posix_spawnattr_init(&attr);
    }
    Actions(const Actions&) = delete;
    Actions& operator=(const Actions&) = delete;
    ~Actions() {
      posix_spawnattr_destroy(&attr);
      posix_spawn_file_actions_destroy(&a);
    }
  };

  pid_t pid_ = -1;
  ExitStatus status_;
  UniqueFd in_, out_, err_;
};

}  // namespace mkimg
