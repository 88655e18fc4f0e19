#include "builder/build_plan.h"

#include "builder/overloaded.h"
#include "builder/run_mounts.h"
#include "builder/steps.h"
#include "common/ascii.h"
#include "common/error.h"
#include "oci/image.h"
#include "parser/parse.h"

namespace mkimg::builder {
namespace {

void add_platform_args(parser::Environment& env, const BuildOptions& options) {
  oci::Platform host = oci::host_platform();
  oci::Platform target = options.platform.empty() ? host : oci::parse_platform(options.platform);
  parser::set_variable(env, "BUILDPLATFORM", oci::to_string(host));
  parser::set_variable(env, "BUILDOS", host.os);
  parser::set_variable(env, "BUILDARCH", host.architecture);
  parser::set_variable(env, "BUILDVARIANT", host.variant);
  parser::set_variable(env, "TARGETPLATFORM", oci::to_string(target));
  parser::set_variable(env, "TARGETOS", target.os);
  parser::set_variable(env, "TARGETARCH", target.architecture);
  parser::set_variable(env, "TARGETVARIANT", target.variant);
}

std::string expand_global(const BuildSession& session, const std::string& word) {
  try {
    return parser::expand_word(word, session.global_args, session.dockerfile.directives.escape);
  } catch (const std::exception&) {
    return word;
  }
}

/// BuildKit (dockerfile2llb, buildDispatchStates) refuses every stage whose FROM expands to
/// nothing, the target's or not, before anything runs: "base name ($B) should not be blank".
void check_base_names(const BuildSession& session) {
  for (const auto& s : session.dockerfile.stages) {
    if (expand_global(session, s.base).empty()) {
      throw located(session, s.location, Error("base name (" + s.base + ") should not be blank"));
    }
  }
}

std::vector<StageNode> stage_nodes(const BuildSession& session) {
  const auto& stages = session.dockerfile.stages;
  check_base_names(session);
  std::vector<StageNode> nodes = stage_name_nodes(session);
  for (std::size_t i = 0; i < stages.size(); ++i) {
    auto add = [&](const std::string& word, std::size_t before) {
      SourceRef r = resolve_source(session, expand_global(session, word), before);
      if (r.kind == SourceRef::Kind::kStage) nodes[i].depends_on.push_back(r.stage);
    };
    add(stages[i].base, i);
    for (const auto& inst : stages[i].instructions) {
      if (auto* c = std::get_if<parser::Copy>(&inst.body); c && !c->from.empty()) {
        add(c->from, nodes.size());
      }
      if (auto* r = std::get_if<parser::Run>(&inst.body)) {
        for (const auto& m : r->mounts) {
          if (!m.from.empty()) add(m.from, nodes.size());
        }
      }
    }
  }
  return nodes;
}

std::size_t target_index(const BuildSession& session, const std::vector<StageNode>& nodes) {
  const std::string& target = session.options->target;
  if (target.empty()) return nodes.size() - 1;
  std::size_t i = find_stage(nodes, target, nodes.size());
  if (i >= nodes.size()) {
    throw Error(describe("build", target, "target stage could not be found in the Dockerfile"));
  }
  return i;
}

/// Per stage: whether --no-cache-filter names it. Like BuildKit, only stage names (AS NAME,
/// any case) match; unlike BuildKit, which ignores a name no stage has, a typo is an error.
std::vector<bool> no_cache_stages(const BuildSession& session) {
  const auto& stages = session.dockerfile.stages;
  std::vector<bool> marked(stages.size(), false);
  for (const auto& name : session.options->no_cache_stages) {
    std::string want = ascii_lower(name);
    bool found = false;
    for (std::size_t i = 0; i < stages.size(); ++i) {
      if (!stages[i].name.empty() && ascii_lower(stages[i].name) == want) {
        marked[i] = true;
        found = true;
      }
    }
    if (!found) {
      throw Error(describe("--no-cache-filter", name, "no stage of that name in the Dockerfile"));
    }
  }
  // A stage FROM a re-run stage runs again too: its keys chain to the re-run stage's keys,
  // which name the instructions, not the new layers, so its entries were made on the old ones.
  for (std::size_t i = 0; i < stages.size(); ++i) {
    SourceRef base = resolve_source(session, expand_global(session, stages[i].base), i);
    if (base.kind == SourceRef::Kind::kStage && marked[base.stage]) marked[i] = true;
  }
  return marked;
}

/// Per stage of a dry run: whether its working directory is known (not when it comes from a
/// base image's config, which a dry run does not read).
using KnownWorkdirs = std::vector<bool>;

/// What a step does to the stage's state when nothing runs: WORKDIR moves, metadata
/// instructions change the config; RUN, COPY and ADD change nothing the plan can see.
void simulate(BuildSession& session, StageState& stage, const parser::Instruction& expanded,
              const std::string& label, KnownWorkdirs& known) {
  StepContext ctx{session, stage, expanded, label};
  std::visit(Overloaded{
                 // The mount points a build would refuse (a target that resolves to "/"),
                 // those whose working directory is known or that do not depend on it.
                 [&](const parser::Run& run) {
                   check_entitlements(*session.options, run);
                   std::vector<parser::RunMount> checked;
                   for (const auto& m : run.mounts) {
                     if (known[stage.index] || m.target.starts_with('/')) checked.push_back(m);
                   }
                   check_mount_targets(stage, checked);
                 },
                 [&](const parser::Copy&) {},
                 [&](const parser::Add&) {},
                 [&](const parser::Workdir& w) {
                   if (!w.path.empty() && w.path.front() == '/') known[stage.index] = true;
                   auto& cfg = stage.image.config.config;
                   if (!cfg) cfg = oci::ContainerConfig{};
                   std::string base = cfg->working_dir.value_or("/");
                   cfg->working_dir = (std::filesystem::path(base.empty() ? "/" : base) / w.path)
                                          .lexically_normal()
                                          .string();
                 },
                 [&](const parser::From&) {
                   throw Error("FROM is not allowed here (an ONBUILD trigger?)");
                 },
                 [&](const auto&) { step_metadata(ctx); },
             },
             expanded.body);
}

/// Plans one instruction: expanded (errors located as in a build), listed, simulated.
void plan_instruction(BuildSession& session, StageState& stage, const parser::Instruction& inst,
                      const std::string& label, KnownWorkdirs& known, std::string& out) {
  try {
    parser::Instruction expanded =
        parser::expand(inst, step_environment(stage), session.dockerfile.directives.escape);
    out += "[" + label + "] " + inst.original + "\n";
    simulate(session, stage, expanded, label, known);
  } catch (const std::exception& e) {
    throw located(session, inst.location, e, inst.original);
  }
}

/// Plans the FROM of stage `i`: an earlier stage's planned state (and its ONBUILD triggers),
/// or an empty image for scratch and for a base image, which is only named.
void plan_from(BuildSession& session, StageState& stage, const parser::Stage& source,
               const std::string& label, KnownWorkdirs& known, std::string& out) {
  std::string base;
  try {
    base =
        parser::expand_word(source.base, session.global_args, session.dockerfile.directives.escape);
  } catch (const std::exception& e) {
    throw located(session, source.location, e);
  }
  out += "[" + label + "] FROM " + base + "\n";
  SourceRef r = resolve_source(session, base, stage.index);
  if (r.kind == SourceRef::Kind::kDirectory) {
    out += "[" + label + " context] COPY --from=" + base + " . /\n";
    known[stage.index] = true;
    return;
  }
  const bool is_stage = r.kind == SourceRef::Kind::kStage;
  std::size_t i = r.stage;
  known[stage.index] = (base == "scratch" && !r.context) || (is_stage && known[i]);
  if (!is_stage || !session.finished[i]) return;
  stage.image = *session.finished[i];
  auto& cfg = stage.image.config.config;
  if (!cfg || !cfg->on_build) return;
  std::vector<std::string> triggers = *cfg->on_build;
  cfg->on_build.reset();
  for (const auto& t : triggers) {
    parser::Instruction inst = parser::parse_instruction(t);
    inst.location = source.location;
    plan_instruction(session, stage, inst, label + " ONBUILD", known, out);
  }
}

void plan_stage(BuildSession& session, std::size_t i, KnownWorkdirs& known, std::string& out) {
  const parser::Stage& source = session.dockerfile.stages[i];
  StageState stage = start_stage(*session.options, i, source.name);
  std::size_t total = source.instructions.size() + 1;
  plan_from(session, stage, source, stage_label(session, i, 1, total), known, out);
  for (std::size_t k = 0; k < source.instructions.size(); ++k) {
    plan_instruction(session, stage, source.instructions[k], stage_label(session, i, k + 2, total),
                     known, out);
  }
  session.finished[i] = std::move(stage.image);
}

std::string stage_name(const BuildSession& session, std::size_t i) {
  const std::string& name = session.dockerfile.stages[i].name;
  return name.empty() ? "stage-" + std::to_string(i) : name;
}

}  // namespace

void declare_global_args(BuildSession& session) {
  add_platform_args(session.global_args, *session.options);
  for (const auto& inst : session.dockerfile.global_args) {
    const auto* arg = std::get_if<parser::Arg>(&inst.body);
    if (!arg) continue;
    for (const auto& d : arg->args) {
      auto it = session.options->build_args.find(d.name);
      if (it != session.options->build_args.end()) {
        parser::set_variable(session.global_args, d.name, it->second);
      } else if (d.default_value) {
        parser::set_variable(session.global_args, d.name,
                             parser::expand_word(*d.default_value, session.global_args,
                                                 session.dockerfile.directives.escape));
      }
    }
  }
}

StagePlan plan_stages(const BuildSession& session) {
  StagePlan plan;
  plan.nodes = stage_nodes(session);
  plan.target = target_index(session, plan.nodes);
  plan.order = build_order(plan.nodes, plan.target);
  plan.groups = parallel_groups(plan.nodes, plan.order);
  plan.no_cache = no_cache_stages(session);
  return plan;
}

std::string stage_label(const BuildSession& session, std::size_t i, std::size_t n,
                        std::size_t total) {
  const auto& stages = session.dockerfile.stages;
  std::string counter = std::to_string(n) + "/" + std::to_string(total);
  if (stages.size() == 1 && stages[i].name.empty()) return session.label_prefix + counter;
  return session.label_prefix + stage_name(session, i) + " " + counter;
}

std::string dry_run(const BuildOptions& options) {
  BuildSession session;
  session.options = &options;
  session.dockerfile = parser::parse(options.dockerfile_text, options.dockerfile_name);
  declare_global_args(session);
  StagePlan plan = plan_stages(session);
  session.finished.resize(plan.nodes.size());
  std::size_t groups = 0;
  for (std::size_t g : plan.groups) groups = std::max(groups, g + 1);
  std::vector<std::vector<std::size_t>> members(groups);
  for (std::size_t p = 0; p < plan.order.size(); ++p) {
    members[plan.groups[p]].push_back(plan.order[p]);
  }
  std::string out;
  KnownWorkdirs known(plan.nodes.size(), false);
  for (std::size_t g = 0; g < groups; ++g) {
    out += "# group " + std::to_string(g + 1) + "/" + std::to_string(groups) + ":";
    for (std::size_t i : members[g]) out += " " + stage_name(session, i);
    out += "\n";
    for (std::size_t i : members[g]) plan_stage(session, i, known, out);
  }
  return out;
}

}  // namespace mkimg::builder
