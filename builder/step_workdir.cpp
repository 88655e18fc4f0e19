// WORKDIR: sets the working directory and creates it, in a layer of its own even when the
// directory was there (BuildKit's dispatchWorkdir: a mkdir -p file op, withLayer); WORKDIR / only
// changes the config.
#include "builder/layer_step.h"
#include "builder/steps.h"
#include "common/in_root.h"
#include "runtime/user_database.h"

namespace mkimg::builder {

void step_workdir(const StepContext& ctx, const parser::Workdir& w) {
  auto& cfg = ctx.stage.image.config.config;
  if (!cfg) cfg = oci::ContainerConfig{};
  std::string base = working_dir(ctx.stage);
  std::filesystem::path p = w.path.starts_with("/") ? std::filesystem::path(w.path)
                                                    : std::filesystem::path(base) / w.path;
  std::string dir = p.lexically_normal().string();
  if (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  cfg->working_dir = dir;
  if (dir == "/") return add_metadata_history(ctx.session, ctx.stage, "WORKDIR /");
  std::string user = cfg->user ? *cfg->user : "";
  cache::StepKey key{ctx.stage.image.cache_key,
                     {{"instruction", "WORKDIR " + dir}, {"user", user}}};
  StepDescription desc{ctx.label, ctx.instruction.original, "WORKDIR " + dir};
  run_layer_step(ctx.session, ctx.stage, key, desc, [&](const std::filesystem::path& merged) {
    UniqueFd root = open_root(merged);
    // Created directories belong to the current USER, as BuildKit makes them.
    DirOwner owner;
    if (!user.empty()) {
      auto r = runtime::resolve_user(runtime::read_user_database(root.get()), user,
                                     runtime::DefaultGroup::kPrimaryGroup);
      owner = DirOwner{r.uid, r.gid};
    }
    make_dirs_in_root(root.get(), dir, owner);
    return std::vector<runtime::MountStub>{};
  });
}

}  // namespace mkimg::builder
