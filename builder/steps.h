// The instruction steps, one file each (internal to builder/). Every step gets the
// instruction already expanded with the ARG/ENV in scope (RUN commands are left to the shell).
#pragma once

#include <string>

#include "builder/build_state.h"
#include "parser/dockerfile.h"

namespace mkimg::builder {

/// What every step knows: the session, its stage, the instruction and its progress label.
struct StepContext {
  BuildSession& session;
  StageState& stage;
  const parser::Instruction& instruction;
  std::string label;  ///< "name 2/7"
  /// False when nothing after this step reads the stage's root file system (no later RUN,
  /// COPY, ADD or WORKDIR in the stage, no other stage built on it or copying from it).
  bool root_read_later = true;
};

/// FROM: the stage's image from scratch, an earlier stage, the store, an archive or a registry.
/// An image (not a stage) from the store, or pulled, as a stage's state: a base, or what
/// COPY --from names. `platform` (os/arch[/variant], or empty) is the one it must have.
ImageState load_image_state(BuildSession& session, const std::string& name,
                            const std::string& platform);

void step_from(BuildSession& session, StageState& stage, const parser::Stage& source,
               const std::string& label);
void step_run(const StepContext& ctx, const parser::Run& run);
/// When one of `stages` (indexes into the Dockerfile's) has a RUN that will run for sure (the
/// stage does not use the cache: --no-cache, --no-cache-filter), looks the runtime up and
/// starts the container reaper on session.background (runtime::start_reaper), so that the
/// first RUN does not wait for its spawn. When a RUN may be a cache hit, the reaper is started
/// by the first RUN that runs instead: a cached rebuild spawns no process. A failure is left
/// for a RUN to report.
void prepare_runs(BuildSession& session, const std::vector<std::size_t>& stages);
/// Throws unless the build grants what `run` asks for (RUN --security=insecure needs
/// `--allow security.insecure`, as BuildKit's entitlements): the build and --dry-run both ask.
void check_entitlements(const BuildOptions& options, const parser::Run& run);
void step_copy(const StepContext& ctx, const parser::Copy& copy);
void step_add(const StepContext& ctx, const parser::Add& add);
void step_workdir(const StepContext& ctx, const parser::Workdir& workdir);
/// ENV, ARG, LABEL, USER, EXPOSE, VOLUME, STOPSIGNAL, HEALTHCHECK, CMD, ENTRYPOINT, SHELL,
/// ONBUILD, MAINTAINER: config changes only.
void step_metadata(const StepContext& ctx);

/// Runs one instruction of a stage (dispatch on its kind, expansion first).
void run_instruction(BuildSession& session, StageState& stage, const parser::Instruction& inst,
                     const std::string& label, bool root_read_later = true);

/// True for an instruction that reads or writes the root file system (RUN, COPY, ADD, WORKDIR).
bool touches_root(const parser::Instruction& inst);

}  // namespace mkimg::builder
