// .dockerignore matching with moby/patternmatcher's rules, as a table.
#include <gtest/gtest.h>

#include <ostream>
#include <string>

#include "common/error.h"
#include "parser/dockerignore.h"
#include "tests/support/harness.h"

namespace {

using mkimg::parser::ignored;
using mkimg::parser::parse_dockerignore;

/// A .dockerignore, a path, and whether the path is excluded.
struct IgnoreCase {
  std::string patterns;
  std::string path;
  bool excluded;
};

void PrintTo(const IgnoreCase& c, std::ostream* os) {
  *os << "patterns {" << c.patterns << "} path " << c.path;
}

class DockerignoreMatch : public ::testing::TestWithParam<IgnoreCase> {};

TEST_P(DockerignoreMatch, DecidesLikeDocker) {
  const IgnoreCase& c = GetParam();
  EXPECT_EQ(ignored(parse_dockerignore(c.patterns), c.path), c.excluded);
}

const IgnoreCase kCases[] = {
    // literal names and their subtrees
    {"node_modules", "node_modules", true},
    {"node_modules", "node_modules/x/y.js", true},
    {"node_modules", "src/node_modules", false},
    {"node_modules", "node_modules2", false},
    // '*' stays within one segment
    {"*.log", "a.log", true},
    {"*.log", "dir/a.log", false},
    {"*/*.log", "dir/a.log", true},
    {"*", "anything/below", true},
    // '?' is one character, not '/'
    {"file?.txt", "file1.txt", true},
    {"file?.txt", "file10.txt", false},
    {"a?b", "a/b", false},
    // bracket expressions
    {"[abc].txt", "b.txt", true},
    {"[a-c].txt", "d.txt", false},
    {"[^a].txt", "b.txt", true},
    {"[^a].txt", "a.txt", false},
    // '**' crosses directories
    {"**/*.go", "main.go", true},
    {"**/*.go", "a/b/c.go", true},
    {"a/**/b", "a/b", true},
    {"a/**/b", "a/x/y/b", true},
    {"a/**", "a/x/y", true},
    {"**", "x/y/z", true},
    {"**/foo", "x/foo", true},
    {"**/foo", "xfoo", true},  // moby's suffix test, kept
    // leading '/', './' and cleaning
    {"/secret", "secret", true},
    {"./build", "build/out", true},
    {"a//b/../c", "a/c", true},
    {"docs/", "docs/x.md", true},
    // the path is cleaned too
    {"tmp", "./tmp/x", true},
    {"tmp", "/tmp", true},
    // exceptions: the last matching pattern wins
    {"*.md\n!README.md", "README.md", false},
    {"*.md\n!README.md", "CHANGES.md", true},
    {"!README.md\n*.md", "README.md", true},
    {"docs\n!docs/keep", "docs/keep", false},
    {"docs\n!docs/keep", "docs/drop", true},
    {"docs\n!docs/keep\ndocs/keep/tmp", "docs/keep/tmp/x", true},
    // comments, blanks, spaces, CRLF
    {"# comment\n\n  spaced  \r\n", "spaced", true},
    {"# comment", "# comment", false},
    {" #notcomment", "#notcomment", true},
    // escapes
    {"\\*", "*", true},
    {"\\*", "a", false},
};

INSTANTIATE_TEST_SUITE_P(Table, DockerignoreMatch, ::testing::ValuesIn(kCases));

TEST(Dockerignore, ParsesCleanedPatternsWithKinds) {
  const auto ignore = parse_dockerignore("\xEF\xBB\xBF/a/./b/\n! keep \n# c\n");
  ASSERT_EQ(ignore.patterns.size(), 2u);
  EXPECT_EQ(ignore.patterns[0].pattern, "a/b");
  EXPECT_EQ(ignore.patterns[1].pattern, "keep");
  EXPECT_EQ(ignore.patterns[1].kind, mkimg::parser::PatternKind::kInclude);
}

TEST(Dockerignore, MalformedPatternsAreErrors) {
  EXPECT_THROW(parse_dockerignore("[a-"), mkimg::Error);
  EXPECT_THROW(parse_dockerignore("!"), mkimg::Error);
  EXPECT_THROW(parse_dockerignore("[z-a]"), mkimg::Error);
}

using mkimg::testing::error_of;

TEST(Dockerignore, ErrorsNameTheFileAndTheLine) {
  EXPECT_EQ(error_of([] { parse_dockerignore("a\n# c\n\n[a-\n", "ctx/.dockerignore"); }),
            "ctx/.dockerignore:4: parse pattern `[a-`: syntax error in pattern");
  EXPECT_EQ(error_of([] { parse_dockerignore("a\n !\n"); }),
            ".dockerignore:2: illegal exclusion pattern: \"!\"");
}

// A hostile .dockerignore (issue #15): one 10 MB line, or millions of patterns, is refused
// naming the line instead of being compiled.
TEST(Dockerignore, APatternOver4096BytesIsRefusedNamingItsLine) {
  const std::string longest(mkimg::parser::kMaxIgnorePatternBytes, 'a');
  EXPECT_EQ(parse_dockerignore("x\n" + longest + "  \n").patterns.size(), 2u);
  const std::string err =
      error_of([&] { parse_dockerignore("x\n#" + longest + "\n" + longest + "b\n"); });
  EXPECT_EQ(err.rfind(".dockerignore:3: a pattern of 4097 bytes", 0), 0u) << err;
  EXPECT_NE(err.find("4096"), std::string::npos) << err;
  EXPECT_LT(err.size(), 200u);  // the pattern itself is not in the message
}

TEST(Dockerignore, MoreThan100000PatternsAreRefusedNamingTheLine) {
  std::string text = "# many\n";
  for (std::size_t i = 0; i < mkimg::parser::kMaxIgnorePatterns; ++i) {
    text += "p" + std::to_string(i) + "\n";
  }
  EXPECT_EQ(parse_dockerignore(text).patterns.size(), mkimg::parser::kMaxIgnorePatterns);
  text += "one-more\n";
  EXPECT_EQ(error_of([&] { parse_dockerignore(text); }),
            ".dockerignore:100002: more than 100000 patterns");
}

TEST(Dockerignore, ExcludedDirectoryIsWalkedOnlyWhenAnExceptionCanReachBelow) {
  const auto ignore = parse_dockerignore("docs\n!docs/api/keep.md\nvendor\n!*/README");
  EXPECT_TRUE(mkimg::parser::must_walk_excluded_directory(ignore, "docs"));
  EXPECT_TRUE(mkimg::parser::must_walk_excluded_directory(ignore, "docs/api"));
  EXPECT_FALSE(mkimg::parser::must_walk_excluded_directory(ignore, "docs/other"));
  EXPECT_TRUE(mkimg::parser::must_walk_excluded_directory(ignore, "vendor"));  // */README
  const auto plain = parse_dockerignore("docs\nvendor");
  EXPECT_FALSE(mkimg::parser::must_walk_excluded_directory(plain, "docs"));
  const auto deep = parse_dockerignore("build\n!**/keep");
  EXPECT_TRUE(mkimg::parser::must_walk_excluded_directory(deep, "build/a/b"));
}

}  // namespace
