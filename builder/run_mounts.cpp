#include "builder/run_mounts.h"

#include "builder/shared_cache.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "builder/build.h"
#include "builder/copy/plan.h"
#include "builder/layer_step.h"
#include "builder/shared_cache.h"
#include "builder/steps.h"
#include "cache/prune.h"
#include "common/error.h"
#include "common/in_root.h"
#include "common/user_namespace.h"
#include "oci/digest.h"
#include "oci/store.h"

namespace mkimg::builder {
namespace {

std::string pinned_path(int fd) {
  return "/proc/" + std::to_string(::getpid()) + "/fd/" + std::to_string(fd);
}

}  // namespace

std::filesystem::path cache_mount_dir(const std::filesystem::path& cache_dir,
                                      const std::string& id) {
  return cache_dir / "mounts" / oci::sha256_of(id).encoded();
}

std::string mount_target(const StageState& stage, const parser::RunMount& m) {
  const std::string wd = working_dir(stage);
  std::string target = m.target;
  if (target.empty() || target.front() != '/') {
    target = (std::filesystem::path(wd) / target).lexically_normal().string();
    // No target: the working directory itself, without the "/" the join left at its end.
    if (m.target.empty() && target.size() > 1 && target.back() == '/') target.pop_back();
  }
  // BuildKit (dockerfile2llb, dispatchRunMounts) joins a target that is not absolute, none
  // included, to the working directory and refuses the mount when that gives "/":
  // `invalid mount target "/"`.
  if (std::filesystem::path(target).lexically_normal() == "/") {
    throw Error("invalid mount target \"/\"");
  }
  return target;
}

void check_mount_targets(const StageState& stage, const std::vector<parser::RunMount>& mounts) {
  for (const auto& m : mounts) {
    if (m.type == parser::MountType::kBind || m.type == parser::MountType::kCache ||
        m.type == parser::MountType::kTmpfs) {
      mount_target(stage, m);
    }
  }
}

RunMounts::RunMounts(BuildSession& session, const StageState& stage,
                     const std::vector<parser::RunMount>& mounts) {
  check_mount_targets(stage, mounts);  // before anything is mounted
  for (const auto& m : mounts) {
    switch (m.type) {
      case parser::MountType::kCache:
        add_cache(session, stage, m);
        break;
      case parser::MountType::kBind:
        add_bind(session, m);
        binds_.back().destination = mount_target(stage, m);
        break;
      case parser::MountType::kTmpfs:
        tmpfs_.push_back(mount_target(stage, m));
        break;
      case parser::MountType::kSecret:
        add_secret(session, stage, m);
        break;
      case parser::MountType::kSsh:
        add_ssh(session, stage, m);
        break;
    }
  }
}

RunMounts::~RunMounts() {
  bool unmounted = true;
  for (auto it = staged_.rbegin(); it != staged_.rend(); ++it) {
    unmounted = ::umount2(it->c_str(), MNT_DETACH) == 0 && unmounted;
    std::error_code ec;
    std::filesystem::remove(*it, ec);  // never recursive: it may still show the source
  }
  if (!unmounted) return;
  for (const auto& p : scratch_) {
    std::error_code ec;
    std::filesystem::remove_all(p, ec);
  }
}

// `rw`: the step may write to the bind, but BuildKit throws the writes away, so a directory
// gets an overlay with a scratch upper directory and a file a scratch copy.
std::filesystem::path RunMounts::writable(BuildSession& session, const std::filesystem::path& ro,
                                          const std::string& what) {
  std::filesystem::path base = session.store->temp_path("bind-rw-");
  std::filesystem::create_directories(base);
  scratch_.push_back(base);
  if (!std::filesystem::is_directory(ro)) {
    std::filesystem::copy_file(ro, base / "file");
    return base / "file";
  }
  for (const char* d : {"upper", "work", "merged"}) std::filesystem::create_directory(base / d);
  std::string opt = "lowerdir=" + ro.string() + ",upperdir=" + (base / "upper").string() +
                    ",workdir=" + (base / "work").string();
  if (::mount("overlay", (base / "merged").c_str(), "overlay", 0, opt.c_str()) != 0) {
    throw sys_error("mount writable view of", what);
  }
  staged_.push_back(base / "merged");
  return base / "merged";
}

// runc refuses a /proc/<pid>/fd/<n> bind source (EINVAL), so the pinned source is
// bind-mounted here, through its fd, onto an empty mount point in <root>/tmp that nobody else
// can change, and the runtime binds that path.
std::filesystem::path RunMounts::stage_source(BuildSession& session, const UniqueFd& src,
                                              const std::string& what) {
  struct stat st {};
  if (::fstat(src.get(), &st) != 0) throw sys_error("stat mount source", what);
  std::filesystem::path p = session.store->temp_path("bind-");
  if (S_ISDIR(st.st_mode)) {
    if (::mkdir(p.c_str(), 0700) != 0) throw sys_error("create mount point", p.string());
  } else {
    UniqueFd stub(::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!stub) throw sys_error("create mount point", p.string());
  }
  staged_.push_back(p);
  if (::mount(pinned_path(src.get()).c_str(), p.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    throw sys_error("mount source", what);
  }
  return p;
}

std::string RunMounts::target_path(const StageState& stage, const std::string& target) const {
  if (!target.empty() && target.front() == '/') return target;
  auto& cfg = stage.image.config.config;
  std::string wd = cfg && cfg->working_dir ? *cfg->working_dir : "/";
  return (std::filesystem::path(wd) / target).lexically_normal().string();
}

namespace {

/// The mode and owner the mount asks for (BuildKit sets them when it makes the directory).
void set_cache_dir_owner(const std::filesystem::path& dir, const parser::RunMount& m) {
  ::chmod(dir.c_str(), m.mode.value_or(0755));
  if (::chown(dir.c_str(), m.uid.value_or(0), m.gid.value_or(0)) != 0) {
    throw chown_error(dir.string(), m.uid.value_or(0), m.gid.value_or(0));
  }
}

void create_cache_dir(const std::filesystem::path& dir, const parser::RunMount& m) {
  std::error_code ec;
  if (std::filesystem::exists(dir, ec)) return;
  std::filesystem::create_directories(dir);
  ::chmod(dir.c_str(), m.mode.value_or(0755));
  if (::chown(dir.c_str(), m.uid.value_or(0), m.gid.value_or(0)) != 0) {
    throw chown_error(dir.string(), m.uid.value_or(0), m.gid.value_or(0));
  }
}

/// An flock on "<dir>.lock" (one open file each, so it also excludes the other threads of
/// this build); `wait` blocks, else an empty fd when someone else holds it.
UniqueFd lock_cache_dir(const std::filesystem::path& dir, const std::string& id, bool wait) {
  UniqueFd lock(::open((dir.string() + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lock) throw sys_error("lock cache", id);
  for (;;) {
    if (::flock(lock.get(), wait ? LOCK_EX : LOCK_EX | LOCK_NB) == 0) return lock;
    if (errno == EWOULDBLOCK && !wait) return UniqueFd();
    if (errno != EINTR) throw sys_error("lock cache", id);
  }
}

}  // namespace

// sharing=shared (BuildKit's default): every step that names the id binds the same directory,
// also at the same time; locked: one step at a time (the others wait); private: a step that
// finds the directory in use takes the next free instance "<dir>-1", "<dir>-2", ...
void RunMounts::add_cache(BuildSession& session, const StageState& stage,
                          const parser::RunMount& m) {
  std::string target = mount_target(stage, m);
  std::string id = m.id.empty() ? target : m.id;
  auto dir = cache_mount_dir(session.store->cache_dir(), id);
  if (m.sharing == parser::CacheSharing::kPrivate) {
    std::filesystem::create_directories(dir.parent_path());
    if (use_cache_mount(session, id, dir)) set_cache_dir_owner(dir, m);
    std::filesystem::path first = dir;
    for (int n = 1;; ++n) {
      create_cache_dir(dir, m);
      if (UniqueFd lock = lock_cache_dir(dir, id, false)) {
        locks_.push_back(std::move(lock));
        break;
      }
      dir = first.string() + "-" + std::to_string(n);
    }
  } else {
    std::filesystem::create_directories(dir.parent_path());
    if (use_cache_mount(session, id, dir)) set_cache_dir_owner(dir, m);
    create_cache_dir(dir, m);
  }
  if (m.sharing == parser::CacheSharing::kLocked) locks_.push_back(lock_cache_dir(dir, id, true));
  cache::mark_used(dir);  // what `mkimg cache prune --older-than` reads
  runtime::BindMount b{
      dir, target,
      m.read_only ? runtime::BindMount::Access::kReadOnly : runtime::BindMount::Access::kReadWrite};
  binds_.push_back(b);
}

std::vector<cache::KeyPart> bind_key_parts(BuildSession& session,
                                           const std::vector<parser::RunMount>& mounts) {
  std::vector<cache::KeyPart> parts;
  for (std::size_t n = 0; n < mounts.size(); ++n) {
    const auto& m = mounts[n];
    if (m.type != parser::MountType::kBind) continue;
    SourceRef r;
    if (!m.from.empty()) r = resolve_source(session, m.from, session.dockerfile.stages.size());
    std::string value;
    if (m.from.empty() || r.kind == SourceRef::Kind::kDirectory) {
      CopyInput input;
      input.root = m.from.empty() ? session.options->context : r.context->dir;
      input.hasher =
          m.from.empty() ? session.hasher.get() : &named_directory(session, *r.context).hasher;
      oci::Sha256 h;
      for (const auto& src : select_sources(input, {m.source.empty() ? "." : m.source})) {
        for (const auto& f : src.files) {
          h.update(f.sub);
          h.update(std::string_view("\0", 1));
          h.update(file_key(f));
          h.update("\n");
        }
      }
      value = "files " + h.finish().str();
    } else {
      std::optional<ImageState> image =
          r.kind == SourceRef::Kind::kStage
              ? finished_stage(session, r.stage)
              : load_image_state(session, r.image, session.options->platform);
      if (!image) throw Error(describe("mount", m.text, "from= must name a built stage"));
      value = "layers";
      for (const auto& d : image->config.rootfs.diff_ids) value += " " + d.str();
    }
    parts.push_back({"bind:" + std::to_string(n), value});
  }
  return parts;
}

void RunMounts::add_bind(BuildSession& session, const parser::RunMount& m) {
  std::filesystem::path root = session.options->context;
  if (!m.from.empty()) {
    SourceRef r = resolve_source(session, m.from, session.dockerfile.stages.size());
    std::optional<ImageState> image;
    if (r.kind == SourceRef::Kind::kDirectory) {
      root = r.context->dir;
    } else if (r.kind == SourceRef::Kind::kStage) {
      image = finished_stage(session, r.stage);
      if (!image) throw Error(describe("mount", m.text, "from= must name a built stage"));
    } else {
      image = load_image_state(session, r.image, session.options->platform);
    }
    if (image) {
      views_.push_back(std::make_unique<ImageView>(session, *image));
      root = views_.back()->root();
    }
  }
  UniqueFd root_fd = open_root(root);
  UniqueFd src = open_in_root(root_fd.get(), m.source.empty() ? "/" : m.source, O_PATH);
  if (!src) throw sys_error("mount source", m.source);
  std::filesystem::path source = stage_source(session, src, m.source);
  if (m.read_only) {
    binds_.push_back({source, m.target, runtime::BindMount::Access::kReadOnly});
  } else {
    binds_.push_back(
        {writable(session, source, m.source), m.target, runtime::BindMount::Access::kReadWrite});
  }
  pinned_.push_back(std::move(src));
}

// BuildKit: the id defaults to the target's base name, the target to /run/secrets/<id>; with
// env= and no target the secret is only an environment variable. Mode 0400, root-owned.
void RunMounts::add_secret(BuildSession& session, const StageState& stage,
                           const parser::RunMount& m) {
  std::string id = m.id.empty() && !m.target.empty()
                       ? std::filesystem::path(m.target).filename().string()
                       : m.id;
  if (id.empty()) throw Error(describe("mount", m.text, "a secret mount needs id= or target="));
  const SecretSource* source = nullptr;
  for (const auto& s : session.options->secrets) {
    if (s.id == id) source = &s;
  }
  std::optional<std::string> value;
  if (source && !source->file.empty()) {
    value = read_host_file(source->file);
  } else if (source) {
    if (const char* v = std::getenv(source->env.c_str())) value = v;
  }
  if (!value) {
    if (!m.required) return;
    throw Error(describe("mount", m.text,
                         "secret " + id + " not provided (pass --secret id=" + id +
                             ",src=PATH or --secret id=" + id + ",env=VARIABLE)"));
  }
  if (!m.env.empty()) env_.push_back(m.env + "=" + *value);
  if (!m.env.empty() && m.target.empty()) return;
  std::string target = m.target.empty() ? "/run/secrets/" + id : target_path(stage, m.target);
  std::filesystem::path dir = session.store->temp_path("secret-");
  if (::mkdir(dir.c_str(), 0700) != 0) throw sys_error("create secret mount", dir.string());
  staged_.push_back(dir);
  if (::mount("tmpfs", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700") != 0) {
    throw sys_error("mount tmpfs for secret", id);
  }
  std::filesystem::path file = dir / "secret";
  UniqueFd fd(::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) throw sys_error("write secret", id);
  for (std::size_t done = 0; done < value->size();) {
    ssize_t n = ::write(fd.get(), value->data() + done, value->size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw sys_error("write secret", id);
    done += static_cast<std::size_t>(n);
  }
  if (::fchown(fd.get(), m.uid.value_or(0), m.gid.value_or(0)) != 0 ||
      ::fchmod(fd.get(), m.mode.value_or(0400)) != 0) {
    throw sys_error("set the owner and mode of secret", id);
  }
  binds_.push_back({file, target, runtime::BindMount::Access::kReadOnly});
}

// BuildKit: id "default", target /run/buildkit/ssh_agent.<n> (n counts the step's ssh
// mounts), SSH_AUTH_SOCK names the first. The agent socket is bound as it is (BuildKit proxies
// it; mode/uid/gid are not applied).
void RunMounts::add_ssh(BuildSession& session, const StageState& stage, const parser::RunMount& m) {
  std::string id = m.id.empty() ? "default" : m.id;
  const SshSource* source = nullptr;
  for (const auto& s : session.options->ssh) {
    if (s.id == id) source = &s;
  }
  if (!source) {
    if (!m.required) return;
    throw Error(describe("mount", m.text,
                         "ssh agent " + id + " not provided (pass --ssh " + id + "[=SOCKET])"));
  }
  std::string target = m.target.empty() ? "/run/buildkit/ssh_agent." + std::to_string(ssh_mounts_)
                                        : target_path(stage, m.target);
  if (ssh_mounts_ == 0) env_.push_back("SSH_AUTH_SOCK=" + target);
  ++ssh_mounts_;
  binds_.push_back({source->socket, target, runtime::BindMount::Access::kReadWrite});
}

}  // namespace mkimg::builder
