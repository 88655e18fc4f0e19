// RUN: the command in a runc/crun container on the step's overlay root.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "builder/layer_step.h"
#include "builder/run_mounts.h"
#include "builder/steps.h"
#include "common/error.h"
#include "common/in_root.h"
#include "common/temp_dir.h"
#include "oci/store.h"
#include "runtime/bundle_config.h"
#include "runtime/container_runtime.h"
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

runtime::NetworkMode network_of(const StepContext& ctx, const parser::Run& run) {
  if (run.network == parser::NetworkMode::kNone) return runtime::NetworkMode::kNone;
  if (run.network == parser::NetworkMode::kHost) return runtime::NetworkMode::kHost;
  return ctx.session.options->network;
}

/// /etc/hosts, /etc/resolv.conf and /etc/hostname, generated in `dir` and bound read-write
/// over the image's (never part of the layer).
std::vector<runtime::BindMount> etc_files(const std::filesystem::path& dir,
                                          runtime::NetworkMode network) {
  runtime::write_bundle_file(
      dir / "hosts", "127.0.0.1\tlocalhost mkimg\n::1\tlocalhost ip6-localhost ip6-loopback\n");
  runtime::write_bundle_file(dir / "hostname", "mkimg\n");
  std::string resolv;
  if (network == runtime::NetworkMode::kHost) {
    try {
      resolv = read_host_file("/etc/resolv.conf");
    } catch (const std::exception&) {
    }
  }
  if (resolv.empty() && network == runtime::NetworkMode::kHost) resolv = "nameserver 8.8.8.8\n";
  runtime::write_bundle_file(dir / "resolv.conf", resolv);
  std::vector<runtime::BindMount> binds;
  for (const char* f : {"hosts", "hostname", "resolv.conf"}) {
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

}  // namespace

void step_run(const StepContext& ctx, const parser::Run& run) {
  auto& session = ctx.session;
  auto& stage = ctx.stage;
  std::vector<std::string> argv = run_argv(stage, run);
  std::vector<std::string> env = run_env(stage);
  runtime::NetworkMode network = network_of(ctx, run);
  auto& cfg = stage.image.config.config;
  std::string user = cfg && cfg->user ? *cfg->user : "";
  std::string cwd = cfg && cfg->working_dir && !cfg->working_dir->empty() ? *cfg->working_dir : "/";
  cache::StepKey key{stage.image.cache_key,
                     {{"instruction", "RUN\n" +
                                          [&] {
                                            std::string s;
                                            for (const auto& a : argv) s += a + '\0';
                                            return s;
                                          }()},
                      {"env",
                       [&] {
                         std::string s;
                         for (const auto& e : env) s += e + '\0';
                         return s;
                       }()},
                      {"user", user},
                      {"workdir", cwd},
                      {"network", network == runtime::NetworkMode::kNone ? "none" : "host"},
                      {"mounts", mounts_key(run)}}};
  const parser::Heredoc* script = shebang_heredoc(run);
  if (script) key.parts.push_back({"heredoc", script->content});
  StepDescription desc{ctx.label, ctx.instruction.original, "RUN " + join(argv) + " # buildkit"};
  run_layer_step(session, stage, key, desc, [&](const std::filesystem::path& merged) {
    const runtime::ContainerRuntime& runtime = runtime_of(session);
    UniqueFd root = open_root(merged);
    make_dirs_in_root(root.get(), cwd);
    runtime::ResolvedUser resolved;
    if (!user.empty()) {
      resolved = runtime::resolve_user(runtime::read_user_database(root.get()), user,
                                       runtime::DefaultGroup::kPrimaryGroup);
    }
    TempDir bundle(session.store->tmp_dir(), "bundle-");
    runtime::BundleSpec spec;
    spec.rootfs = merged;
    spec.args = argv;
    spec.env = env;
    spec.cwd = cwd;
    spec.uid = resolved.uid;
    spec.gid = resolved.gid;
    spec.additional_gids = resolved.additional_gids;
    spec.network = network;
    spec.binds = etc_files(bundle.path(), network);
    if (script) {
      std::filesystem::path pipes = bundle.path() / "pipes";
      std::filesystem::create_directory(pipes);
      ::chmod(pipes.c_str(), 0755);
      runtime::write_bundle_file(pipes / script->name, script->content, 0755);
      spec.binds.push_back({pipes, kPipesDir, runtime::BindMount::Access::kReadOnly});
    }
    RunMounts mounts(session, stage, run.mounts);
    for (const auto& b : mounts.binds()) spec.binds.push_back(b);
    spec.tmpfs = mounts.tmpfs();
    for (const auto& e : mounts.env()) {
      std::string name = e.substr(0, e.find('=') + 1);
      std::erase_if(spec.env, [&](const std::string& x) { return x.rfind(name, 0) == 0; });
      spec.env.push_back(e);
    }
    std::vector<std::string> dests = runtime::default_mount_destinations();
    for (const auto& b : spec.binds) dests.push_back(b.destination);
    for (const auto& t : spec.tmpfs) dests.push_back(t);
    auto stubs = runtime::find_mount_stubs(merged, dests);
    runtime::write_bundle_file(bundle.path() / "config.json", runtime::bundle_config_json(spec));
    runtime::ContainerRun cr;
    cr.bundle = bundle.path();
    cr.state_root = session.store->tmp_dir() / "runtime-state";
    cr.id = runtime::new_container_id();
    cr.cancel = &session.cancelled;
    cr.on_line = [&](std::string_view line) { session.events->output(ctx.label, line); };
    runtime::ContainerResult result = runtime::run_container(runtime, cr);
    if (result.exit_code != 0) throw Error(failure_message(argv, result));
    return stubs;
  });
}

}  // namespace mkimg::builder
