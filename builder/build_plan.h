// The plan of a build, worked out before anything runs: the global ARGs with their values, the
// stage graph (which stage uses which), the stages the target needs in build order and their
// parallel groups. build() runs this plan; `mkimg build --dry-run` prints it (dry_run()) with
// each instruction expanded, and executes, pulls and writes nothing.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "builder/build_state.h"
#include "builder/stage_graph.h"

namespace mkimg::builder {

/// The stages of one build.
struct StagePlan {
  std::vector<StageNode> nodes;    ///< every stage of the Dockerfile, its stage references resolved
  std::size_t target = 0;          ///< the stage the image is made of
  std::vector<std::size_t> order;  ///< the stages the target needs, in build order
  std::vector<std::size_t> groups;  ///< the parallel group of each entry of `order`
  std::vector<bool> no_cache;       ///< per stage: named by --no-cache-filter
};

/// Sets session.global_args: the platform ARGs (BUILDPLATFORM, TARGETARCH, ...), then the ARGs
/// before the first FROM with their --build-arg value or default.
void declare_global_args(BuildSession& session);

/// The stage graph, the target (--target or the last stage) and the order. Throws
/// mkimg::Error for an unknown target stage, a cycle or a --no-cache-filter name no stage has.
StagePlan plan_stages(const BuildSession& session);

/// The progress label of step `n` of `total` in stage `i`: "name n/total" (just "n/total" for a
/// Dockerfile of one unnamed stage).
std::string stage_label(const BuildSession& session, std::size_t i, std::size_t n,
                        std::size_t total);

/// `mkimg build --dry-run`: parses, resolves build args, plans the stages and expands every
/// instruction of the stages the target needs, and returns the plan: for each parallel group a
/// "# group g/G: stages" line, then one "[stage n/m] INSTRUCTION" line per step (FROM shows the
/// expanded base). Nothing is executed, pulled or written; a base image is just named (its
/// config is not read, so its ENV does not take part in expansion). Errors are those of a build.
std::string dry_run(const BuildOptions& options);

}  // namespace mkimg::builder
