#include "runtime/run_image.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <thread>

#include "common/error.h"
#include "common/fd.h"
#include "common/in_root.h"
#include "common/temp_dir.h"
#include "oci/store.h"
#include "runtime/bundle_config.h"
#include "runtime/container_runtime.h"
#include "runtime/overlay_mount.h"
#include "runtime/user_database.h"

namespace mkimg::runtime {
namespace {

constexpr const char* kDefaultPath =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

std::string_view env_key(std::string_view kv) { return kv.substr(0, kv.find('=')); }

bool has_key(const std::vector<std::string>& env, std::string_view key) {
  for (const auto& e : env) {
    if (env_key(e) == key) return true;
  }
  return false;
}

/// The name of a `mkimg run --name` container, held by two exclusive flocks in
/// <root>/locks/run-names/ (the kernel lets go of a flock when its last holder ends, however it
/// ends):
/// - `<name>`, held by this mkimg alone: a second run of the name while it lives is refused;
/// - `.<name>` (no name starts with a dot), which the runtime and the container reaper
///   inherit (ContainerRun::hold_fd): after a killed mkimg it is held until they are done with
///   the container's state, so a new run of the name waits for that rather than have the old
///   run's clean-up delete the new container's state.
class NameLock {
 public:
  NameLock(const std::filesystem::path& locks_dir, const std::string& name) {
    std::filesystem::path dir = locks_dir / "run-names";
    for (const auto& d : {locks_dir, dir}) {
      if (::mkdir(d.c_str(), 0700) != 0 && errno != EEXIST) throw sys_error("create", d.string());
    }
    claim_ = open_lock(dir / name);
    if (!try_lock(claim_.get(), dir / name)) {
      throw Error(
          describe("run", name, "the container name is already in use by a running `mkimg run`"));
    }
    held_ = open_lock(dir / ("." + name));
    // A killed run's runtime and reaper end within seconds of its container's end.
    constexpr auto kWait = std::chrono::seconds(60);
    const auto until = std::chrono::steady_clock::now() + kWait;
    while (!try_lock(held_.get(), dir / ("." + name))) {
      if (std::chrono::steady_clock::now() > until) {
        throw Error(describe("run", name,
                             "the container of this name that a killed `mkimg run` left is "
                             "still being removed after 60 s"));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  /// The fd the runtime and the reaper inherit.
  int held_fd() const { return held_.get(); }

 private:
  static UniqueFd open_lock(const std::filesystem::path& file) {
    UniqueFd fd(::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd) throw sys_error("open", file.string());
    return fd;
  }

  /// Takes the flock without waiting; false when another holds it.
  static bool try_lock(int fd, const std::filesystem::path& file) {
    while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      if (errno == EINTR) continue;
      if (errno == EWOULDBLOCK) return false;
      throw sys_error("lock", file.string());
    }
    return true;
  }

  UniqueFd claim_, held_;
};

/// Each bind's host source exists (a missing one is refused, not created as `docker run -v`
/// does) and its destination is absolute.
void check_binds(const std::vector<BindMount>& binds) {
  for (const auto& b : binds) {
    struct stat st {};
    if (!b.source.is_absolute()) {
      throw Error(describe("mount", b.source.string(), "the host path must be absolute"));
    }
    if (::stat(b.source.c_str(), &st) != 0) {
      throw Error(describe("mount", b.source.string(),
                           std::string(std::strerror(errno)) +
                               " (the host path of a bind mount must exist; mkimg does not "
                               "create it)"));
    }
    if (b.destination.empty() || b.destination[0] != '/') {
      throw Error(describe("mount", b.destination, "the container path must be absolute"));
    }
  }
}

}  // namespace

bool valid_container_name(std::string_view name) {
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (name.size() < 2 || !alnum(name[0])) return false;
  for (char c : name.substr(1)) {
    if (!alnum(c) && c != '_' && c != '.' && c != '-') return false;
  }
  return true;
}

std::vector<std::string> container_env(const std::vector<std::string>& image_env,
                                       const std::vector<std::string>& overrides, bool terminal) {
  std::vector<std::string> env = image_env;
  for (const auto& kv : overrides) {
    bool replaced = false;
    for (auto& e : env) {
      if (env_key(e) == env_key(kv)) {
        e = kv;
        replaced = true;
        break;
      }
    }
    if (!replaced) env.push_back(kv);
  }
  if (!has_key(env, "PATH")) env.insert(env.begin(), kDefaultPath);
  if (terminal && !has_key(env, "TERM")) env.push_back("TERM=xterm");
  return env;
}

std::vector<std::string> container_args(const oci::ContainerConfig& cfg,
                                        const RunOptions& options) {
  std::vector<std::string> args;
  if (options.entrypoint) {
    // docker run --entrypoint: the image's ENTRYPOINT and CMD are both replaced.
    if (!options.entrypoint->empty()) args.push_back(*options.entrypoint);
    args.insert(args.end(), options.command.begin(), options.command.end());
  } else {
    if (cfg.entrypoint) args = *cfg.entrypoint;
    if (!options.command.empty()) {
      args.insert(args.end(), options.command.begin(), options.command.end());
    } else if (cfg.cmd) {
      args.insert(args.end(), cfg.cmd->begin(), cfg.cmd->end());
    }
  }
  if (args.empty()) {
    throw Error(describe("run", options.image,
                         options.entrypoint ? "no command (--entrypoint \"\" and no COMMAND)"
                                            : "no command (CMD or ENTRYPOINT)"));
  }
  return args;
}

int run_image(const oci::Store& store, const oci::ImageConfig& config,
              const std::vector<std::filesystem::path>& lowers, const RunOptions& options) {
  oci::ContainerConfig cfg = config.config.value_or(oci::ContainerConfig{});
  check_binds(options.binds);
  std::vector<std::string> args = container_args(cfg, options);
  ContainerRuntime runtime = find_runtime(options.runtime, &store);
  ContainerRun run;
  run.state_root = state_root(store.tmp_dir());
  std::optional<NameLock> name_lock;
  if (options.name.empty()) {
    run.id = new_container_id();
  } else {
    if (!valid_container_name(options.name)) {
      throw Error(describe("run", options.name,
                           "invalid container name: only [a-zA-Z0-9][a-zA-Z0-9_.-]+ are allowed"));
    }
    name_lock.emplace(store.locks_dir(), options.name);
    run.id = options.name;
    run.hold_fd = name_lock->held_fd();
    // Holding the name, a container of it is what a killed mkimg left (its reaper not done).
    if (std::filesystem::exists(run.state_root / run.id)) {
      delete_container(runtime, run.state_root, run.id);
    }
  }
  // The work directory in <root>/tmp, removed at scope exit (after the overlay, declared
  // below it, is unmounted).
  TempDir area(store.tmp_dir(), "run-");
  for (const char* d : {"upper", "work", "merged", "empty", "bundle"}) {
    std::filesystem::create_directory(area / d);
  }
  OverlayMount mount(lowers, area / "empty", area / "upper", area / "work", area / "merged");
  BundleSpec spec;
  spec.rootfs = area / "merged";
  spec.args = std::move(args);
  spec.env =
      container_env(cfg.env.value_or(std::vector<std::string>{}), options.env, options.terminal);
  spec.cwd = !options.workdir.empty()                       ? options.workdir
             : cfg.working_dir && !cfg.working_dir->empty() ? *cfg.working_dir
                                                            : "/";
  spec.network = options.network;
  spec.binds = options.binds;
  spec.terminal = options.terminal;
  UniqueFd root = open_root(spec.rootfs);
  // The working directory is made when the image lacks it, root-owned, as Docker does.
  make_dirs_in_root(root.get(), spec.cwd);
  const std::string user = !options.user.empty() ? options.user : cfg.user.value_or("");
  if (!user.empty()) {
    auto u = resolve_user(read_user_database(root.get()), user, DefaultGroup::kPrimaryGroup);
    spec.uid = u.uid;
    spec.gid = u.gid;
    spec.additional_gids = u.additional_gids;
  }
  root.reset();
  write_file_atomic(area / "bundle" / "config.json", bundle_config_json(spec), Flush::kNo);
  run.bundle = area / "bundle";
  run.stdio = Stdio::kInherit;
  run.attach_stdin = options.interactive;
  ContainerResult result = run_container(runtime, run);
  return result.exit_code;
}

}  // namespace mkimg::runtime
