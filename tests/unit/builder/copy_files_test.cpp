// CopyFiles: the runs the walk's threads filled, seen as one list in order.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "builder/copy/plan.h"

namespace mkimg::builder {
namespace {

std::vector<CopyFile> run_of(std::vector<std::string> subs) {
  std::vector<CopyFile> run(subs.size());
  for (std::size_t i = 0; i < subs.size(); ++i) run[i].sub = subs[i];
  return run;
}

std::vector<std::string> subs_of(const CopyFiles& files) {
  std::vector<std::string> out;
  for (const auto& f : files) out.push_back(f.sub);
  return out;
}

TEST(CopyFiles, RunsAreOneListInOrderEmptyRunsSkipped) {
  CopyFiles files;
  EXPECT_TRUE(files.empty());
  EXPECT_TRUE(files.begin() == files.end());
  files.append(run_of({}));
  EXPECT_TRUE(files.begin() == files.end());
  CopyFile self;
  self.sub = "";
  files.push_back(self);
  files.append(run_of({"a", "a/1"}));
  files.append(run_of({}));
  files.append(run_of({"b"}));
  files.append(run_of({}));
  EXPECT_EQ(files.size(), 4u);
  EXPECT_EQ(subs_of(files), (std::vector<std::string>{"", "a", "a/1", "b"}));
  EXPECT_EQ(files.front().sub, "");
  EXPECT_EQ(files.run_count(), 5u);
  EXPECT_EQ(files.run(1).size(), 2u);
  for (auto& f : files) f.mode = 0640;
  for (const auto& f : files) EXPECT_EQ(f.mode, 0640u);
}

TEST(CopyFiles, PushBackGoesToTheLastRun) {
  CopyFiles files;
  files.append(run_of({"a"}));
  CopyFile b;
  b.sub = "b";
  files.push_back(b);
  EXPECT_EQ(files.run_count(), 1u);
  EXPECT_EQ(subs_of(files), (std::vector<std::string>{"a", "b"}));
}

}  // namespace
}  // namespace mkimg::builder
