// `mkimg parse` as a user runs it: the real binary on BuildKit's conformance files (read from
// shared/ at run time) and on broken Dockerfiles.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/integration/harness.h"

namespace {

namespace fs = std::filesystem;
using mkimg::testing::read_file;
using mkimg::testing::run_mkimg;
using mkimg::testing::TempDir;
using mkimg::testing::write_file;

fs::path vectors() { return mkimg::testing::shared_dir() / "conformance/buildkit/parser"; }

std::vector<std::string> cases(const std::string& folder) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(vectors() / folder, ec)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string test_name(const std::string& name) {
  std::string out;
  for (char c : name) out.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
  return out;
}

TEST(ParseCommandVectors, ThirtyThreePositiveAndFourNegative) {
  EXPECT_EQ(cases("testfiles").size(), 33u);
  EXPECT_EQ(cases("testfiles-negative").size(), 4u);
}

class ParseDumpCommand : public ::testing::TestWithParam<std::string> {};

TEST_P(ParseDumpCommand, PrintsBuildKitResultByteForByte) {
  TempDir root;
  const fs::path dir = vectors() / "testfiles" / GetParam();
  const auto r = run_mkimg(root.path(), {"parse", "--dump", (dir / "Dockerfile").string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, read_file(dir / "result"));
}

INSTANTIATE_TEST_SUITE_P(BuildKit, ParseDumpCommand, ::testing::ValuesIn(cases("testfiles")),
                         [](const auto& test) { return test_name(test.param); });

class ParseDumpCommandNegative : public ::testing::TestWithParam<std::string> {};

TEST_P(ParseDumpCommandNegative, ExitsNonZeroWithAnError) {
  TempDir root;
  const fs::path file = vectors() / "testfiles-negative" / GetParam() / "Dockerfile";
  const auto r = run_mkimg(root.path(), {"parse", "--dump", file.string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err.rfind("mkimg: error: " + file.string() + ":", 0), 0u) << r.err;
}

INSTANTIATE_TEST_SUITE_P(BuildKit, ParseDumpCommandNegative,
                         ::testing::ValuesIn(cases("testfiles-negative")),
                         [](const auto& test) { return test_name(test.param); });

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
