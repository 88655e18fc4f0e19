#include "runtime/run_image.h"

#include "common/error.h"
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

std::vector<std::string> process_args(const oci::ContainerConfig& cfg, const RunOptions& options) {
  std::vector<std::string> args;
  if (cfg.entrypoint) args = *cfg.entrypoint;
  if (!options.command.empty()) {
    args.insert(args.end(), options.command.begin(), options.command.end());
  } else if (cfg.cmd) {
    args.insert(args.end(), cfg.cmd->begin(), cfg.cmd->end());
  }
  if (args.empty()) throw Error(describe("run", options.image, "no command (CMD or ENTRYPOINT)"));
  return args;
}

}  // namespace

int run_image(const oci::Store& store, const oci::ImageConfig& config,
              const std::vector<std::filesystem::path>& lowers, const RunOptions& options) {
  oci::ContainerConfig cfg = config.config.value_or(oci::ContainerConfig{});
  // The work directory in <root>/tmp, removed at scope exit (after the overlay, declared
  // below it, is unmounted).
  TempDir area(store.tmp_dir(), "run-");
  for (const char* d : {"upper", "work", "merged", "empty", "bundle"}) {
    std::filesystem::create_directory(area / d);
  }
  OverlayMount mount(lowers, area / "empty", area / "upper", area / "work", area / "merged");
  BundleSpec spec;
  spec.rootfs = area / "merged";
  spec.args = process_args(cfg, options);
  spec.env = cfg.env.value_or(std::vector<std::string>{});
  bool has_path = false;
  for (const auto& e : spec.env) has_path = has_path || e.rfind("PATH=", 0) == 0;
  if (!has_path) spec.env.insert(spec.env.begin(), kDefaultPath);
  spec.cwd = cfg.working_dir && !cfg.working_dir->empty() ? *cfg.working_dir : "/";
  spec.network = options.network;
  if (cfg.user && !cfg.user->empty()) {
    UniqueFd root = open_root(spec.rootfs);
    auto u = resolve_user(read_user_database(root.get()), *cfg.user, DefaultGroup::kPrimaryGroup);
    spec.uid = u.uid;
    spec.gid = u.gid;
    spec.additional_gids = u.additional_gids;
  }
  write_file_atomic(area / "bundle" / "config.json", bundle_config_json(spec));
  ContainerRun run;
  run.bundle = area / "bundle";
  run.state_root = state_root(store.tmp_dir());
  run.id = new_container_id();
  run.stdio = Stdio::kInherit;
  ContainerResult result = run_container(find_runtime(options.runtime, &store), run);
  return result.exit_code;
}

}  // namespace mkimg::runtime
