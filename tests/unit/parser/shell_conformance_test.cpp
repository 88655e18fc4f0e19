// BuildKit's shell lexer vectors (tests/conformance/buildkit/shell), read at run time:
// every envVarTest case (A and U lines) and every wordsTest case must give BuildKit's answer.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "common/error.h"
#include "parser/expand.h"

namespace {

using mkimg::parser::Environment;

std::string trim(const std::string& s, const char* blanks = " \t") {
  const auto b = s.find_first_not_of(blanks);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(blanks) - b + 1);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t pos; (pos = s.find(sep, start)) != std::string::npos; start = pos + 1) {
    out.push_back(s.substr(start, pos - start));
  }
  out.push_back(s.substr(start));
  return out;
}

std::vector<std::string> read_lines(const std::string& name) {
  std::ifstream in(std::string(MKIMG_CONFORMANCE_DIR) + "/buildkit/shell/" + name);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

/// One envVarTest line: input and expected (or "error").
struct WordCase {
  int line = 0;
  std::string input;
  std::string expected;
};

std::vector<WordCase> env_var_cases() {
  std::vector<WordCase> cases;
  const auto lines = read_lines("envVarTest");
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string line = trim(lines[i]);
    if (line.empty() || line[0] == '#') continue;
    const auto fields = split(line, '|');
    if (fields.size() != 3) continue;
    const std::string platform = trim(fields[0]);
    if (platform != "A" && platform != "U") continue;
    cases.push_back({static_cast<int>(i + 1), trim(fields[1]), trim(fields[2])});
  }
  return cases;
}

class EnvVarTest : public ::testing::TestWithParam<WordCase> {};

TEST(ShellConformanceFiles, AreReadableAndNonTrivial) {
  EXPECT_GT(env_var_cases().size(), 200u);
  EXPECT_GT(read_lines("wordsTest").size(), 20u);
}

TEST_P(EnvVarTest, ExpandsWordLikeBuildKit) {
  const WordCase& c = GetParam();
  Environment env;
  mkimg::parser::set_variable(env, "PWD", "/home");
  mkimg::parser::set_variable(env, "SHELL", "bash");
  mkimg::parser::set_variable(env, "KOREAN", "한국어");
  mkimg::parser::set_variable(env, "NULL", "");
  std::string result;
  try {
    result = mkimg::parser::expand_word(c.input, env);
  } catch (const mkimg::Error&) {
    result = "error";
  }
  EXPECT_EQ(result, c.expected) << "envVarTest line " << c.line << ": " << c.input;
}

INSTANTIATE_TEST_SUITE_P(BuildKit, EnvVarTest, ::testing::ValuesIn(env_var_cases()),
                         [](const auto& test) { return "line" + std::to_string(test.param.line); });

/// One wordsTest case with the environment in force at that line.
struct WordsCase {
  int line = 0;
  Environment env;
  std::string input;
  std::vector<std::string> expected;
};

std::vector<WordsCase> words_cases() {
  std::vector<WordsCase> cases;
  Environment env;
  const auto lines = read_lines("wordsTest");
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    if (trim(line).empty() || line[0] == '#') continue;
    if (line.rfind("ENV ", 0) == 0) {
      std::string assignment = line.substr(3);
      assignment.erase(0, assignment.find_first_not_of(' '));
      const auto eq = assignment.find('=');
      mkimg::parser::set_variable(env, assignment.substr(0, eq),
                                  eq == std::string::npos ? "" : assignment.substr(eq + 1));
      continue;
    }
    const auto fields = split(line, '|');
    if (fields.size() != 2) continue;
    std::string expected = fields[1];
    expected.erase(0, expected.find_first_not_of(' '));
    cases.push_back({static_cast<int>(i + 1), env, trim(fields[0]), split(expected, ',')});
  }
  return cases;
}

class WordsTest : public ::testing::TestWithParam<WordsCase> {};

TEST_P(WordsTest, SplitsWordsLikeBuildKit) {
  const WordsCase& c = GetParam();
  std::vector<std::string> result;
  try {
    result = mkimg::parser::expand_words(c.input, c.env);
  } catch (const mkimg::Error&) {
    result = {"error"};
  }
  EXPECT_EQ(result, c.expected) << "wordsTest line " << c.line << ": " << c.input;
}

INSTANTIATE_TEST_SUITE_P(BuildKit, WordsTest, ::testing::ValuesIn(words_cases()),
                         [](const auto& test) { return "line" + std::to_string(test.param.line); });

}  // namespace
