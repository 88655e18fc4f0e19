// `mkimg parse` as a user runs it: the real binary on BuildKit's conformance files
// (tests/conformance/buildkit) and on broken Dockerfiles.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "tests/support/harness.h"
#include "tests/support/parser_vectors.h"

namespace {

namespace fs = std::filesystem;
using mkimg::testing::parser_case_test_name;
using mkimg::testing::parser_cases;
using mkimg::testing::parser_vectors;
using mkimg::testing::read_file;
using mkimg::testing::run_mkimg;
using mkimg::testing::TempDir;
using mkimg::testing::write_file;

TEST(ParseCommandVectors, ThirtyThreePositiveAndFourNegative) {
  EXPECT_EQ(parser_cases("testfiles").size(), 33u);
  EXPECT_EQ(parser_cases("testfiles-negative").size(), 4u);
}

class ParseDumpCommand : public ::testing::TestWithParam<std::string> {};

TEST_P(ParseDumpCommand, PrintsBuildKitResultByteForByte) {
  TempDir root;
  const fs::path dir = parser_vectors() / "testfiles" / GetParam();
  const auto r = run_mkimg(root.path(), {"parse", "--dump", (dir / "Dockerfile").string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, read_file(dir / "result"));
}

INSTANTIATE_TEST_SUITE_P(BuildKit, ParseDumpCommand, ::testing::ValuesIn(parser_cases("testfiles")),
                         parser_case_test_name);

class ParseDumpCommandNegative : public ::testing::TestWithParam<std::string> {};

TEST_P(ParseDumpCommandNegative, ExitsNonZeroWithAnError) {
  TempDir root;
  const fs::path file = parser_vectors() / "testfiles-negative" / GetParam() / "Dockerfile";
  const auto r = run_mkimg(root.path(), {"parse", "--dump", file.string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err.rfind("mkimg: error: " + file.string() + ":", 0), 0u) << r.err;
}

INSTANTIATE_TEST_SUITE_P(BuildKit, ParseDumpCommandNegative,
                         ::testing::ValuesIn(parser_cases("testfiles-negative")),
                         parser_case_test_name);

TEST(ParseCommand, UnknownFlagExitsOneWithLocationAndLine) {
  TempDir dir;
  write_file(dir / "Dockerfile", "FROM busybox\n\nCOPY --user=me a /b\n");
  const auto r = run_mkimg(dir / "store", {"parse", "-f", (dir / "Dockerfile").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  const std::string expected =
      "mkimg: error: " + (dir / "Dockerfile").string() + ":3:6: unknown flag: user";
  EXPECT_EQ(r.err.rfind(expected, 0), 0u) << r.err;
  EXPECT_NE(r.err.find("\nCOPY --user=me a /b\n"), std::string::npos) << r.err;
}

TEST(ParseCommand, UnterminatedHeredocAndMissingFromFail) {
  TempDir dir;
  write_file(dir / "heredoc", "FROM a\nRUN <<EOF\necho\n");
  write_file(dir / "nofrom", "RUN true\n");
  const auto heredoc = run_mkimg(dir / "store", {"parse", (dir / "heredoc").string()});
  EXPECT_EQ(heredoc.exit_code, 1);
  EXPECT_NE(heredoc.err.find(":2:1: unterminated heredoc EOF"), std::string::npos) << heredoc.err;
  const auto nofrom = run_mkimg(dir / "store", {"parse", (dir / "nofrom").string()});
  EXPECT_EQ(nofrom.exit_code, 1);
  EXPECT_NE(nofrom.err.find(":1:1: no build stage in current context"), std::string::npos)
      << nofrom.err;
}

TEST(ParseCommand, PrintsTypedInstructions) {
  TempDir dir;
  write_file(dir / "Dockerfile",
             "# syntax=docker/dockerfile:1\nARG V=1\nFROM alpine:$V AS base\n"
             "RUN --mount=type=cache,target=/c --network=none make\n"
             "COPY --chown=1:2 --link a /b/\n");
  const auto r = run_mkimg(dir / "store", {"parse", (dir / "Dockerfile").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "directives escape=\"\\\\\" syntax=\"docker/dockerfile:1\"\n"
            "2:1 ARG arg=\"V\"=\"1\"\n"
            "3:1 stage 0 name=\"base\" base=\"alpine:$V\"\n"
            "  4:1 RUN shell=\"make\" mount=[type=cache target=\"/c\" readonly=false "
            "sharing=shared] network=none\n"
            "  5:1 COPY sources=[\"a\"] dest=\"/b/\" chown=\"1:2\" link=true\n");
}

TEST(ParseCommand, MissingFileIsAnError) {
  TempDir dir;
  const auto r = run_mkimg(dir / "store", {"parse", (dir / "nope").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("No such file or directory"), std::string::npos) << r.err;
}

}  // namespace
