#include "builder/copy/rules.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace mkimg::builder {
namespace {

TEST(CopyRules, SourcesAreCleanedInsideTheContext) {
  EXPECT_EQ(clean_source("../x"), "x");
  EXPECT_EQ(clean_source("/a/../../b/./c"), "b/c");
  EXPECT_EQ(clean_source("."), "");
  EXPECT_EQ(clean_source("dir/"), "dir");
}

TEST(CopyRules, WildcardsMatchOneComponent) {
  EXPECT_TRUE(has_wildcard("*.txt"));
  EXPECT_FALSE(has_wildcard("a.txt"));
  EXPECT_TRUE(match_component("*.txt", "a.txt"));
  EXPECT_FALSE(match_component("*.txt", "a.md"));
  EXPECT_TRUE(match_component("file?", "file1"));
  EXPECT_TRUE(match_component("[ab]c", "bc"));
}

TEST(CopyRules, RelativeDestinationIsUnderWorkdirAndKeepsTheTrailingSlash) {
  auto d = resolve_destination("sub/", "/app");
  EXPECT_EQ(d.path, "/app/sub");
  EXPECT_TRUE(d.dir_hint);
  auto f = resolve_destination("file", "/app");
  EXPECT_EQ(f.path, "/app/file");
  EXPECT_FALSE(f.dir_hint);
  EXPECT_TRUE(resolve_destination(".", "/app").dir_hint);
  EXPECT_EQ(resolve_destination("/x/../y", "/app").path, "/y");
}

TEST(CopyRules, FileIntoDirectoryKeepsItsName) {
  auto d = resolve_destination("/dest/", "/");
  EXPECT_EQ(target_path(d, true, false, "src/a.txt", Parents::kNo), "/dest/a.txt");
}

TEST(CopyRules, FileToAPathThatIsNoDirectoryIsRenamed) {
  auto d = resolve_destination("/dest", "/");
  EXPECT_EQ(target_path(d, false, false, "src/a.txt", Parents::kNo), "/dest");
}

TEST(CopyRules, DirectorySourceCopiesItsContentsIntoTheDestination) {
  auto d = resolve_destination("/dest", "/");
  EXPECT_EQ(target_path(d, false, true, "src", Parents::kNo), "/dest");
  EXPECT_EQ(target_path(d, true, true, "src", Parents::kNo), "/dest");
}

TEST(CopyRules, ParentsKeepsTheSourcePath) {
  auto d = resolve_destination("/dest/", "/");
  EXPECT_EQ(target_path(d, true, false, "a/b/c.txt", Parents::kYes), "/dest/a/b/c.txt");
}

TEST(CopyRules, SeveralSourcesNeedADirectoryDestination) {
  EXPECT_THROW(check_multiple_sources(resolve_destination("/dest", "/"), 2, "COPY"), Error);
  EXPECT_NO_THROW(check_multiple_sources(resolve_destination("/dest/", "/"), 2, "COPY"));
  EXPECT_NO_THROW(check_multiple_sources(resolve_destination("/dest", "/"), 1, "COPY"));
}

TEST(CopyRules, ChmodIsOctal) {
  EXPECT_EQ(parse_chmod("0755"), 0755u);
  EXPECT_EQ(parse_chmod("640"), 0640u);
  EXPECT_THROW(parse_chmod("u+x"), Error);
  EXPECT_THROW(parse_chmod("99"), Error);
  EXPECT_THROW(parse_chmod(""), Error);
}

}  // namespace
}  // namespace mkimg::builder
