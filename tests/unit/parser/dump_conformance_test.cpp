// BuildKit's parser vectors (tests/conformance/buildkit/parser), read at run time, against the
// library: every testfiles case dumps to its `result`, every testfiles-negative case is refused.
// (tests/integration/parser/ checks the same through the `mkimg parse --dump` command.)
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "common/error.h"
#include "parser/syntax_tree.h"
#include "tests/support/parser_vectors.h"

namespace {

namespace fs = std::filesystem;

using mkimg::testing::parser_case_test_name;
using mkimg::testing::parser_cases;
using mkimg::testing::parser_vectors;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(ParserVectors, AllThirtySevenArePresent) {
  EXPECT_EQ(parser_cases("testfiles").size(), 33u);
  EXPECT_EQ(parser_cases("testfiles-negative").size(), 4u);
}

class DumpMatches : public ::testing::TestWithParam<std::string> {};

TEST_P(DumpMatches, ResultFileByteForByte) {
  const fs::path dir = parser_vectors() / "testfiles" / GetParam();
  const auto tree = mkimg::parser::parse_syntax(slurp(dir / "Dockerfile"));
  EXPECT_EQ(mkimg::parser::dump(tree), slurp(dir / "result"));
}

INSTANTIATE_TEST_SUITE_P(BuildKit, DumpMatches, ::testing::ValuesIn(parser_cases("testfiles")),
                         parser_case_test_name);

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
                         ::testing::ValuesIn(parser_cases("testfiles-negative")),
                         parser_case_test_name);

}  // namespace
