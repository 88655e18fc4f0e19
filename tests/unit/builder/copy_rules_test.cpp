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

TEST(CopyRules, ChmodOctalReplacesTheMode) {
  EXPECT_EQ(Chmod::parse("0755").apply(0600, false), 0755u);
  EXPECT_EQ(Chmod::parse("640").apply(0777, true), 0640u);
  EXPECT_EQ(Chmod::parse("4755").apply(0, false), 04755u);
  for (const char* bad : {"", "99", "17777", "8", "0x1ed"}) {
    EXPECT_THROW(Chmod::parse(bad), Error) << bad;
  }
}

TEST(CopyRules, ChmodSymbolicAppliesToEachFilesOwnMode) {
  auto mode = [](const char* text, unsigned from, bool dir = false) {
    return Chmod::parse(text).apply(from, dir);
  };
  EXPECT_EQ(mode("u+x", 0644), 0744u);
  EXPECT_EQ(mode("u+x,go-w", 0666), 0744u);
  EXPECT_EQ(mode("+x", 0644), 0755u);  // no who: all, no umask (BuildKit)
  EXPECT_EQ(mode("a-w", 0777), 0555u);
  EXPECT_EQ(mode("go=", 0755), 0700u);
  EXPECT_EQ(mode("o=r", 0777), 0774u);
  EXPECT_EQ(mode("u=rwx,g=rx,o=", 0), 0750u);
  EXPECT_EQ(mode("a=rX", 0644), 0444u);
  EXPECT_EQ(mode("a=rX", 0744), 0555u);
  EXPECT_EQ(mode("a=rX", 0700, true), 0555u);
  EXPECT_EQ(mode("g=u", 0640), 0660u);
  EXPECT_EQ(mode("go=u-w", 0750), 0755u);
  EXPECT_EQ(mode("u+s", 0755), 04755u);
  EXPECT_EQ(mode("g+s", 0755), 02755u);
  EXPECT_EQ(mode("+t", 0777, true), 01777u);
  EXPECT_EQ(mode("u+t", 0777, true), 0777u);  // t is the others' bit, as chmod(1)
  EXPECT_EQ(mode("u=rw", 04755), 0655u);      // = clears the who's set-id bit too
  EXPECT_EQ(mode("u-x+r", 0300), 0600u);
  for (const char* bad : {"u", "u+x,", ",u+x", "u+y", "x+u", "u+x g-w", "ugo", "+X,=q"}) {
    EXPECT_THROW(Chmod::parse(bad), Error) << bad;
  }
}

}  // namespace
}  // namespace mkimg::builder
