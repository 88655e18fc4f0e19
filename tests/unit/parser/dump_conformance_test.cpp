// BuildKit's parser vectors (shared/conformance/buildkit/parser), read at run time, against the
// library: every testfiles case dumps to its `result`, every testfiles-negative case is refused.
// (tests/integration/parser/ checks the same through the `mkimg parse --dump` command.)
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/error.h"
#include "parser/syntax_tree.h"

namespace {

namespace fs = std::filesystem;

fs::path parser_vectors() { return fs::path(MKIMG_SHARED_DIR) / "conformance/buildkit/parser"; }

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> cases(const std::string& folder) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(parser_vectors() / folder, ec)) {
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

TEST(ParserVectors, AllThirtySevenArePresent) {
  EXPECT_EQ(cases("testfiles").size(), 33u);
  EXPECT_EQ(cases("testfiles-negative").size(), 4u);
}

class DumpMatches : public ::testing::TestWithParam<std::string> {};

TEST_P(DumpMatches, ResultFileByteForByte) {
  const fs::path dir = parser_vectors() / "testfiles" / GetParam();
  const auto tree = mkimg::parser::parse_syntax(slurp(dir / "Dockerfile"));
  EXPECT_EQ(mkimg::parser::dump(tree), slurp(dir / "result"));
}

INSTANTIATE_TEST_SUITE_P(BuildKit, DumpMatches, ::testing::ValuesIn(cases("testfiles")),
                         [](const auto& test) { return test_name(test.param); });

class NegativeIsRefused : public ::testing::TestWithParam<std::string> {};

TEST_P(NegativeIsRefused, WithALocatedError) {
  const fs::path dir = parser_vectors() / "testfiles-negative" / GetParam();
  try {
    mkimg::parser::parse_syntax(slurp(dir / "Dockerfile"));
    FAIL() << "accepted " << dir;
  } catch (const mkimg::Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("Dockerfile:", 0), 0u) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(BuildKit, NegativeIsRefused,
                         ::testing::ValuesIn(cases("testfiles-negative")),
                         [](const auto& test) { return test_name(test.param); });

}  // namespace
