// Runs the stages of a build on a small pool of threads: a stage starts as soon as every stage
// it uses (FROM <stage>, COPY --from, RUN --mount from=) has finished; among the stages that
// are ready, the one earliest in the build order goes first. With one job the stages run one
// after another on the calling thread, exactly in the build order. The first failure stops
// the build: no further stage starts, `cancel` is set so the running ones can stop early,
// the pool waits for them, and that first error is rethrown (later ones are dropped).
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <vector>

#include "builder/stage_graph.h"

namespace mkimg::builder {

/// The default number of stages built at once: the number of cores, at most 4.
unsigned default_jobs();

/// Runs `build_one(stage index)` for every stage of `order` (a build_order of `stages`) on up
/// to `jobs` threads (see the file comment). Throws the first failure.
void run_stages(const std::vector<StageNode>& stages, const std::vector<std::size_t>& order,
                unsigned jobs, std::atomic<bool>& cancel,
                const std::function<void(std::size_t)>& build_one);

}  // namespace mkimg::builder
