// The stage graph of a multi-stage Dockerfile: which stages the target needs, in an order
// where every stage comes after the stages it reads (FROM <stage>, COPY --from, RUN
// --mount=from), and which of them can run at the same time. Cycles are errors.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace mkimg::builder {

/// One stage as the graph sees it: its name (may be empty) and the stage references it
/// makes, already resolved to stage indexes.
struct StageNode {
  std::string name;
  std::vector<std::size_t> depends_on;
};

/// Stage indexes in build order: only the stages `target` (an index) needs, dependencies
/// first, ties by Dockerfile order. Throws mkimg::Error naming the stages of a cycle.
std::vector<std::size_t> build_order(const std::vector<StageNode>& stages, std::size_t target);

/// The parallel group of each stage of `order` (a build_order), in the order of `order`: 0 for
/// a stage that uses no other stage, else one more than the highest group of the stages it
/// uses. The stages of one group can be built at the same time.
std::vector<std::size_t> parallel_groups(const std::vector<StageNode>& stages,
                                         const std::vector<std::size_t>& order);

/// The index of the stage a FROM/--from word names, among stages before `before` (FROM: the
/// stages above it; COPY --from: all stages, so forward references and cycles are seen): a
/// stage name (case-insensitive) or a number. Returns `stages.size()` when the word names no
/// stage (it is then an image).
std::size_t find_stage(const std::vector<StageNode>& stages, const std::string& word,
                       std::size_t before);

}  // namespace mkimg::builder
