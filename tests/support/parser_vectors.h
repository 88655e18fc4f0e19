// BuildKit's parser conformance cases (tests/conformance/buildkit/parser), read at run time:
// testfiles/<case>/{Dockerfile,result} must dump to `result`, testfiles-negative/<case>/Dockerfile
// must be refused. Shared by the library test (tests/unit/parser/dump_conformance_test.cpp) and
// the `mkimg parse --dump` test (tests/integration/parser/parse_command_test.cpp).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <string>
#include <vector>

namespace mkimg::testing {

/// The folder that holds testfiles/ and testfiles-negative/.
inline std::filesystem::path parser_vectors() {
  return std::filesystem::path(MKIMG_CONFORMANCE_DIR) / "buildkit/parser";
}

/// The case names in `folder` ("testfiles" or "testfiles-negative"), sorted; none when absent.
inline std::vector<std::string> parser_cases(const std::string& folder) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(parser_vectors() / folder, ec)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

/// Names a parameterized test after its case: every character but [A-Za-z0-9] becomes '_'.
inline std::string parser_case_test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string out;
  for (char c : info.param) out.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
  return out;
}

}  // namespace mkimg::testing
