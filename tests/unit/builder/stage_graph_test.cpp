#include "builder/stage_graph.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace mkimg::builder {
namespace {

TEST(StageGraph, OnlyTheStagesTheTargetNeedsInDependencyOrder) {
  std::vector<StageNode> s{{"base", {}}, {"unused", {0}}, {"tools", {}}, {"final", {2, 0}}};
  EXPECT_EQ(build_order(s, 3), (std::vector<std::size_t>{0, 2, 3}));
  EXPECT_EQ(build_order(s, 1), (std::vector<std::size_t>{0, 1}));
}

TEST(StageGraph, SharedDependencyIsBuiltOnce) {
  std::vector<StageNode> s{{"a", {}}, {"b", {0}}, {"c", {0}}, {"d", {1, 2}}};
  EXPECT_EQ(build_order(s, 3), (std::vector<std::size_t>{0, 1, 2, 3}));
}

TEST(StageGraph, CycleIsAnErrorNamingItsStages) {
  std::vector<StageNode> s{{"a", {1}}, {"b", {0}}};
  try {
    build_order(s, 1);
    FAIL() << "expected a cycle error";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("cycle"), std::string::npos) << m;
    EXPECT_NE(m.find("a"), std::string::npos) << m;
  }
}

TEST(StageGraph, StagesAreFoundByNameCaseInsensitiveOrIndex) {
  std::vector<StageNode> s{{"builder", {}}, {"", {}}, {"final", {}}};
  EXPECT_EQ(find_stage(s, "BUILDER", 3), 0u);
  EXPECT_EQ(find_stage(s, "1", 3), 1u);
  EXPECT_EQ(find_stage(s, "busybox", 3), 3u);
}

TEST(StageGraph, FromSeesOnlyEarlierStages) {
  std::vector<StageNode> s{{"a", {}}, {"b", {}}};
  EXPECT_EQ(find_stage(s, "b", 1), 2u);
  EXPECT_EQ(find_stage(s, "1", 1), 2u);
}

TEST(StageGraph, ParallelGroupsFollowTheLongestChainOfDependencies) {
  std::vector<StageNode> s{{"base", {}}, {"unused", {0}}, {"tools", {}},
                           {"lib", {0}}, {"app", {3, 2}}, {"final", {4, 0, 4}}};
  auto order = build_order(s, 5);
  EXPECT_EQ(order, (std::vector<std::size_t>{0, 2, 3, 4, 5}));
  EXPECT_EQ(parallel_groups(s, order), (std::vector<std::size_t>{0, 0, 1, 2, 3}));
  EXPECT_EQ(parallel_groups(s, build_order(s, 2)), (std::vector<std::size_t>{0}));
}

}  // namespace
}  // namespace mkimg::builder
