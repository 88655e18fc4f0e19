#include "builder/stage_graph.h"

#include <algorithm>
#include <cctype>

#include "common/ascii.h"
#include "common/error.h"

namespace mkimg::builder {
namespace {

enum class Mark { kNone, kVisiting, kDone };

std::string stage_label(const std::vector<StageNode>& stages, std::size_t i) {
  return stages[i].name.empty() ? "stage " + std::to_string(i) : stages[i].name;
}

void visit(const std::vector<StageNode>& stages, std::size_t i, std::vector<Mark>& marks,
           std::vector<std::size_t>& path, std::vector<std::size_t>& order) {
  if (marks[i] == Mark::kDone) return;
  path.push_back(i);
  if (marks[i] == Mark::kVisiting) {
    std::string cycle;
    auto start = std::find(path.begin(), path.end(), i);
    for (auto it = start; it != path.end(); ++it) {
      cycle += (cycle.empty() ? "" : " -> ") + stage_label(stages, *it);
    }
    throw Error(describe("order stages", stage_label(stages, i), "cycle: " + cycle));
  }
  marks[i] = Mark::kVisiting;
  std::vector<std::size_t> deps = stages[i].depends_on;
  std::sort(deps.begin(), deps.end());
  for (std::size_t d : deps) {
    if (d >= stages.size())
      throw Error(describe("order stages", stage_label(stages, i),
                           "depends on a stage that does not exist"));
    visit(stages, d, marks, path, order);
  }
  marks[i] = Mark::kDone;
  path.pop_back();
  order.push_back(i);
}

}  // namespace

std::vector<std::size_t> build_order(const std::vector<StageNode>& stages, std::size_t target) {
  std::vector<Mark> marks(stages.size(), Mark::kNone);
  std::vector<std::size_t> path, order;
  visit(stages, target, marks, path, order);
  return order;
}

std::vector<std::size_t> parallel_groups(const std::vector<StageNode>& stages,
                                         const std::vector<std::size_t>& order) {
  std::vector<std::size_t> group_of(stages.size(), 0);
  std::vector<std::size_t> out;
  out.reserve(order.size());
  for (std::size_t i : order) {  // dependencies come first in a build order
    std::size_t g = 0;
    for (std::size_t d : stages[i].depends_on) g = std::max(g, group_of[d] + 1);
    group_of[i] = g;
    out.push_back(g);
  }
  return out;
}

std::size_t find_stage(const std::vector<StageNode>& stages, const std::string& word,
                       std::size_t before) {
  std::string w = ascii_lower(word);
  for (std::size_t i = 0; i < std::min(before, stages.size()); ++i) {
    if (!stages[i].name.empty() && ascii_lower(stages[i].name) == w) return i;
  }
  if (!w.empty() && std::all_of(w.begin(), w.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    std::size_t n = std::stoul(w);
    if (n < before) return n;
  }
  return stages.size();
}

}  // namespace mkimg::builder
