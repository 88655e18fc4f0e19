// The dispatcher: expands an instruction with the ARG/ENV in scope, runs the step of its
// kind, and puts the Dockerfile location in front of any error.
#include "builder/overloaded.h"
#include "builder/shared_cache.h"
#include "builder/steps.h"
#include "common/error.h"
#include "parser/expand.h"
#include "runtime/cancel.h"

namespace mkimg::builder {
namespace {

void dispatch(const StepContext& ctx, const parser::Instruction& inst) {
  std::visit(Overloaded{
                 [&](const parser::Run& r) { step_run(ctx, r); },
                 [&](const parser::Copy& c) { step_copy(ctx, c); },
                 [&](const parser::Add& a) { step_add(ctx, a); },
                 [&](const parser::Workdir& w) { step_workdir(ctx, w); },
                 [&](const parser::From&) {
                   throw Error("FROM is not allowed here (an ONBUILD trigger?)");
                 },
                 [&](const auto&) { step_metadata(ctx); },
             },
             inst.body);
}

}  // namespace

bool touches_root(const parser::Instruction& inst) {
  return std::holds_alternative<parser::Run>(inst.body) ||
         std::holds_alternative<parser::Copy>(inst.body) ||
         std::holds_alternative<parser::Add>(inst.body) ||
         std::holds_alternative<parser::Workdir>(inst.body);
}

void run_instruction(BuildSession& session, StageState& stage, const parser::Instruction& inst,
                     const std::string& label, bool root_read_later) {
  try {
    if (runtime::interrupted()) throw Error("build interrupted");
    if (session.cancelled) throw Error("cancelled: another stage of the build failed");
    parser::Instruction expanded =
        parser::expand(inst, step_environment(stage), session.dockerfile.directives.escape);
    StepContext ctx{session, stage, expanded, label, root_read_later};
    dispatch(ctx, expanded);
  } catch (const RemoteLayerUnusable&) {
    throw;  // build() starts again without the entry
  } catch (const std::exception& e) {
    throw located(session, inst.location, e, inst.original);
  }
}

}  // namespace mkimg::builder
