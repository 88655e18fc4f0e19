// RUN: the command in a runc/crun container on the step's overlay root.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <optional>

#include "builder/history.h"
#include "builder/layer_step.h"
#include "builder/run_mounts.h"
#include "builder/steps.h"
#include "common/error.h"
#include "common/in_root.h"
#include "common/parallel.h"
#include "common/temp_dir.h"
#include "oci/store.h"
#include "runtime/bundle_config.h"
#include "runtime/container_runtime.h"
#include "runtime/emulation.h"
#include "runtime/mount_stubs.h"
#include "runtime/user_database.h"

namespace mkimg::builder {
namespace {

constexpr const char* kDefaultPath =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

bool is_single_heredoc(const parser::Run& run) {
  auto* shell = std::get_if<parser::ShellForm>(&run.command);
  if (!shell || run.heredocs.size() != 1) return false;
  std::string c = shell->command;
  c.erase(std::remove_if(c.begin(), c.end(), [](char ch) { return ch == ' ' || ch == '\t'; }),
          c.end());
  const auto& h = run.heredocs[0];
  return c == "<<" + h.name || c == "<<-" + h.name || c == "<<\"" + h.name + "\"" ||
         c == "<<'" + h.name + "'" || c == "<<-\"" + h.name + "\"" || c == "<<-'" + h.name + "'";
}

/// Where BuildKit mounts the file of a `#!` heredoc (read-only, never in a layer).
constexpr const char* kPipesDir = "/dev/pipes";

/// `RUN <<EOF` whose body starts with `#!`: BuildKit writes the body to a 0755 file in
/// /dev/pipes/ and has the shell run that file, so the kernel uses the `#!` interpreter.
const parser::Heredoc* shebang_heredoc(const parser::Run& run) {
  if (!is_single_heredoc(run) || run.heredocs[0].content.rfind("#!", 0) != 0) return nullptr;
  if (run.heredocs[0].name.find('/') != std::string::npos) return nullptr;
  return &run.heredocs[0];
}

/// The argv the runtime executes (SHELL for the shell form, heredocs folded in).
std::vector<std::string> run_argv(const StageState& stage, const parser::Run& run) {
  if (auto* exec = std::get_if<parser::ExecForm>(&run.command)) return exec->args;
  const auto& shell = std::get<parser::ShellForm>(run.command);
  std::vector<std::string> argv = stage.shell;
  if (const parser::Heredoc* h = shebang_heredoc(run)) {
    argv.push_back(std::string(kPipesDir) + "/" + h->name);
    return argv;
  }
  if (is_single_heredoc(run)) {
    argv.push_back(run.heredocs[0].content);
    return argv;
  }
  std::string script = shell.command;
  for (const auto& h : run.heredocs) script += "\n" + h.content + h.name;
  argv.push_back(script);
  return argv;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& a : v) s += (s.empty() ? "" : " ") + a;
  return s;
}

std::vector<std::string> run_env(const StageState& stage) {
  std::vector<std::string> env;
  bool has_path = false;
  for (const auto& [k, v] : step_environment(stage).variables) {
    env.push_back(k + "=" + v);
    has_path = has_path || k == "PATH";
  }
  if (!has_path) env.insert(env.begin(), kDefaultPath);
  return env;
}

NetworkMode network_of(const StepContext& ctx, const parser::Run& run) {
  if (run.network == NetworkMode::kNone) return NetworkMode::kNone;
  if (run.network == NetworkMode::kHost) return NetworkMode::kHost;
  return ctx.session.options->network;
}

/// /etc/hosts (with the --add-host lines) and /etc/resolv.conf, generated in `dir` and bound
/// read-write over the image's (never part of the layer). /etc/hostname is the image's own file,
/// as in BuildKit: a step may write or remove it (the hostname itself is the UTS namespace's).
std::vector<runtime::BindMount> etc_files(const std::filesystem::path& dir,
                                          const runtime::BundleSpec& spec) {
  const NetworkMode network = spec.network;
  runtime::write_bundle_file(dir / "hosts", runtime::hosts_file(spec));
  std::string resolv;
  if (network == NetworkMode::kHost) {
    try {
      resolv = read_host_file("/etc/resolv.conf");
    } catch (const std::exception&) {
    }
  }
  if (resolv.empty() && network == NetworkMode::kHost) resolv = "nameserver 8.8.8.8\n";
  runtime::write_bundle_file(dir / "resolv.conf", resolv);
  std::vector<runtime::BindMount> binds;
  for (const char* f : {"hosts", "resolv.conf"}) {
    binds.push_back({dir / f, std::string("/etc/") + f, runtime::BindMount::Access::kReadWrite});
  }
  return binds;
}

std::string failure_message(const std::vector<std::string>& argv,
                            const runtime::ContainerResult& r) {
  std::string msg = "process \"" + join(argv) +
                    "\" did not complete successfully: exit code: " + std::to_string(r.exit_code);
  if (!r.last_lines.empty()) {
    msg += "\nlast output lines:";
    for (const auto& l : r.last_lines) msg += "\n  " + l;
  }
  return msg;
}

const runtime::ContainerRuntime& runtime_of(BuildSession& session) {
  std::lock_guard lock(session.mutex);
  if (!session.runtime)
    session.runtime = runtime::find_runtime(session.options->runtime, session.store);
  return *session.runtime;
}

std::string mounts_key(const parser::Run& run) {
  std::string s;
  for (const auto& m : run.mounts) s += m.text + "\n";
  return s;
}

/// What a RUN runs, as its key and its container both see it.
struct RunSetup {
  std::vector<std::string> argv;
  std::vector<std::string> env;
  NetworkMode network = NetworkMode::kHost;
  std::string user;
  std::string cwd;
  const parser::Heredoc* script = nullptr;  ///< a heredoc run as a script (#!)
  bool insecure = false;                    ///< --security=insecure
};

RunSetup run_setup(const StepContext& ctx, const parser::Run& run) {
  RunSetup r;
  r.argv = run_argv(ctx.stage, run);
  r.env = run_env(ctx.stage);
  r.network = network_of(ctx, run);
  const auto& cfg = ctx.stage.image.config.config;
  r.user = cfg && cfg->user ? *cfg->user : "";
  r.cwd = working_dir(ctx.stage);
  r.script = shebang_heredoc(run);
  r.insecure = run.security == parser::SecurityMode::kInsecure;
  return r;
}

std::string nul_joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += x + '\0';
  return s;
}

/// The --add-host names in order, without their IPs: BuildKit's exec op cache map clears each
/// extra host's IP, so a host that moved (another runner, another service container) still hits.
std::string host_names(const std::vector<runtime::HostEntry>& hosts) {
  std::string s;
  for (const auto& h : hosts) s += h.name + '\0';
  return s;
}

/// The --ulimit limits by type ("RLIMIT_NOFILE=1024:2048"), sorted: the order they were given in
/// does not change the container.
std::string ulimits_key(const std::vector<runtime::Rlimit>& limits) {
  std::vector<std::string> lines;
  for (const auto& l : limits) {
    lines.push_back(l.type + "=" + std::to_string(l.soft) + ":" + std::to_string(l.hard));
  }
  std::sort(lines.begin(), lines.end());
  return nul_joined(lines);
}

cache::StepKey run_key(const StepContext& ctx, const parser::Run& run, const RunSetup& r) {
  cache::StepKey key{ctx.stage.image.cache_key,
                     {{"instruction", "RUN\n" + nul_joined(r.argv)},
                      {"env", nul_joined(r.env)},
                      {"user", r.user},
                      {"workdir", r.cwd},
                      {"network", r.network == NetworkMode::kNone ? "none" : "host"},
                      {"mounts", mounts_key(run)}}};
  if (r.script) key.parts.push_back({"heredoc", r.script->content});
  for (auto& part : bind_key_parts(ctx.session, run.mounts)) key.parts.push_back(std::move(part));
  // A privileged step may make another tree than a sandboxed one: never the same entry.
  if (r.insecure) key.parts.push_back({"security", "insecure"});
  // The container options, as BuildKit's exec op has them (docs/cache.md): only when given, so
  // the keys of a build without them stay as they were.
  const BuildOptions& o = *ctx.session.options;
  if (!o.extra_hosts.empty()) key.parts.push_back({"add-host", host_names(o.extra_hosts)});
  if (!o.ulimits.empty()) key.parts.push_back({"ulimit", ulimits_key(o.ulimits)});
  if (o.shm_size != runtime::kDefaultShmSize) {
    key.parts.push_back({"shm-size", std::to_string(o.shm_size)});
  }
  return key;
}

/// The bundle's process and mounts: the user resolved in the root, /etc files, the script,
/// the RUN --mount binds, tmpfs and secret env.
runtime::BundleSpec bundle_spec(const BuildOptions& options, const RunSetup& r,
                                const std::filesystem::path& merged, int root,
                                const std::filesystem::path& bundle, const RunMounts& mounts) {
  runtime::ResolvedUser resolved;
  if (!r.user.empty()) {
    resolved = runtime::resolve_user(runtime::read_user_database(root), r.user,
                                     runtime::DefaultGroup::kPrimaryGroup);
  }
  runtime::BundleSpec spec;
  spec.rootfs = merged;
  spec.args = r.argv;
  spec.env = r.env;
  spec.cwd = r.cwd;
  spec.uid = resolved.uid;
  spec.gid = resolved.gid;
  spec.additional_gids = resolved.additional_gids;
  spec.network = r.network;
  spec.privileged = r.insecure;
  spec.rlimits = options.ulimits;
  spec.shm_size = options.shm_size;
  spec.extra_hosts = options.extra_hosts;
  spec.binds = etc_files(bundle, spec);
  if (r.script) {
    std::filesystem::path pipes = bundle / "pipes";
    std::filesystem::create_directory(pipes);
    ::chmod(pipes.c_str(), 0755);
    runtime::write_bundle_file(pipes / r.script->name, r.script->content, 0755);
    spec.binds.push_back({pipes, kPipesDir, runtime::BindMount::Access::kReadOnly});
  }
  for (const auto& b : mounts.binds()) spec.binds.push_back(b);
  spec.tmpfs = mounts.tmpfs();
  for (const auto& e : mounts.env()) {
    std::string name = e.substr(0, e.find('=') + 1);
    std::erase_if(spec.env, [&](const std::string& x) { return x.rfind(name, 0) == 0; });
    spec.env.push_back(e);
  }
  return spec;
}

/// A tmpfs over the bundle directory while its config.json holds secret values (RUN
/// --mount=type=secret,env=): they never reach the store's disk and go with the unmount.
class BundleInMemory {
 public:
  explicit BundleInMemory(const std::filesystem::path& dir) : dir_(dir) {
    if (::mount("tmpfs", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700") != 0) {
      throw sys_error("mount tmpfs for the bundle", dir.string());
    }
  }
  BundleInMemory(const BundleInMemory&) = delete;
  BundleInMemory& operator=(const BundleInMemory&) = delete;
  ~BundleInMemory() { ::umount2(dir_.c_str(), MNT_DETACH); }

 private:
  std::filesystem::path dir_;
};

/// The RUN in a container on the mounted root; returns the mount stubs it left.
std::vector<runtime::MountStub> run_in_container(const StepContext& ctx, const parser::Run& run,
                                                 const RunSetup& r,
                                                 const std::filesystem::path& merged) {
  auto& session = ctx.session;
  const runtime::ContainerRuntime& runtime = runtime_of(session);
  // The reaper of the build's containers is spawned beside the bundle's making, which takes
  // about as long (unless prepare_runs started it as the build began).
  Background reaper;
  runtime::start_reaper(reaper, runtime, runtime::state_root(session.store->tmp_dir()));
  UniqueFd root = open_root(merged);
  make_dirs_in_root(root.get(), r.cwd);
  TempDir bundle(session.store->tmp_dir(), "bundle-");
  RunMounts mounts(session, ctx.stage, run.mounts);
  std::optional<BundleInMemory> in_memory;
  if (!mounts.env().empty()) in_memory.emplace(bundle.path());
  runtime::BundleSpec spec =
      bundle_spec(*session.options, r, merged, root.get(), bundle.path(), mounts);
  std::vector<std::string> dests = runtime::default_mount_destinations();
  for (const auto& b : spec.binds) dests.push_back(b.destination);
  for (const auto& t : spec.tmpfs) dests.push_back(t);
  auto stubs = runtime::find_mount_stubs(merged, dests);
  runtime::write_bundle_file(bundle.path() / "config.json", runtime::bundle_config_json(spec));
  runtime::ContainerRun cr;
  cr.bundle = bundle.path();
  cr.state_root = runtime::state_root(session.store->tmp_dir());
  cr.id = runtime::new_container_id();
  cr.cancel = &session.cancelled;
  cr.on_line = [&](std::string_view line) { session.events->output(ctx.label, line); };
  runtime::ContainerResult result = runtime::run_container(runtime, cr);
  if (result.exit_code != 0) throw Error(failure_message(r.argv, result));
  in_memory.reset();
  bundle.remove_beside(session.background);  // off the path of the layer's diff and commit
  return stubs;
}

}  // namespace

void prepare_runs(BuildSession& session, const std::vector<std::size_t>& stages) {
  bool runs = std::any_of(stages.begin(), stages.end(), [&](std::size_t i) {
    const auto& instructions = session.dockerfile.stages[i].instructions;
    return stage_cache_mode(session, i) != CacheMode::kUse &&
           std::any_of(instructions.begin(), instructions.end(), [](const auto& inst) {
             return std::holds_alternative<parser::Run>(inst.body);
           });
  });
  if (!runs) return;
  try {
    runtime::start_reaper(session.background, runtime_of(session),
                          runtime::state_root(session.store->tmp_dir()));
  } catch (const std::exception& e) {
    // No runtime: the first RUN says so, where it is.
    spdlog::debug("the container reaper was not started ahead: {}", e.what());
  }
}

void check_entitlements(const BuildOptions& options, const parser::Run& run) {
  if (run.security == parser::SecurityMode::kInsecure && !options.allow_insecure) {
    // BuildKit: the solver refuses the entitlement unless the build request grants it.
    throw Error(
        "security.insecure is not allowed: RUN --security=insecure needs `mkimg build --allow "
        "security.insecure`");
  }
}

void step_run(const StepContext& ctx, const parser::Run& run) {
  const oci::ImageConfig& image = ctx.stage.image.config;
  if (auto why = runtime::cannot_run(image.os, image.architecture)) {
    throw Error(describe("run", ctx.instruction.original, *why));
  }
  RunSetup r = run_setup(ctx, run);
  check_entitlements(*ctx.session.options, run);
  if (r.network != NetworkMode::kNone) {
    std::lock_guard lock(ctx.session.mutex);
    ctx.session.inputs.network = true;  // the build is not hermetic (provenance)
  }
  StepDescription desc{
      ctx.label, ctx.instruction.original,
      run_created_by(r.argv, ctx.stage.image.build_args, step_environment(ctx.stage))};
  run_layer_step(
      ctx.session, ctx.stage, run_key(ctx, run, r), desc,
      [&](const std::filesystem::path& merged) { return run_in_container(ctx, run, r, merged); });
}

}  // namespace mkimg::builder
