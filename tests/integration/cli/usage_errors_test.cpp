// Usage errors of the `mkimg` command line: every one is `mkimg: error: ...` naming the flag or
// value, then the usage line of the command, on stderr, and exit 2 (README, "Exit codes");
// --help still prints the help on stdout and exits 0.
#include <gtest/gtest.h>

#include "tests/support/harness.h"

namespace mkimg::testing {
namespace {

struct UsageCase {
  const char* name;
  std::vector<std::string> args;  ///< after `mkimg`
  const char* named;              ///< what the error must name
};

void PrintTo(const UsageCase& c, std::ostream* os) { *os << c.name; }

class UsageError : public ::testing::TestWithParam<UsageCase> {};

TEST_P(UsageError, IsOneLineNamingItThenTheUsageAndExitsTwo) {
  TempDir dir;
  std::vector<std::string> args{mkimg_binary()};
  const UsageCase& c = GetParam();
  if (c.args.empty() || c.args[0] != "--root") args.insert(args.end(), {"--root", dir.path()});
  args.insert(args.end(), c.args.begin(), c.args.end());
  CommandResult r = run(args);
  EXPECT_EQ(r.exit_code, 2) << r.all();
  EXPECT_EQ(r.err.rfind("mkimg: error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(c.named), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Usage:"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

const UsageCase kCases[] = {
    {"unknown_flag", {"build", "--bogus", "."}, "--bogus"},
    {"jobs_zero", {"build", "--jobs", "0", "."}, "--jobs"},
    {"progress_bogus", {"build", "--progress", "bogus", "."}, "bogus"},
    {"missing_argument", {"tag", "only-one:v1"}, "required"},
    {"no_subcommand", {}, "subcommand"},
    {"unknown_subcommand", {"frobnicate"}, "frobnicate"},
    {"empty_root", {"--root", "", "images"}, "--root"},
    {"log_level_bogus", {"--log-level", "loud", "images"}, "loud"},
    {"cache_prune_older_than_bogus", {"cache", "prune", "--older-than", "3x"}, "--older-than"},
    {"cache_prune_older_than_negative", {"cache", "prune", "--older-than", "-1h"}, "-1h"},
    {"cache_prune_keep_storage_bogus", {"cache", "prune", "--keep-storage", "lots"}, "lots"},
    {"cache_prune_keep_storage_with_ref",
     {"cache", "prune", "--keep-storage", "1g", "--ref", "127.0.0.1:1/cache"},
     "--keep-storage"},
    {"cache_unknown_subcommand", {"cache", "prun"}, "prun"},
};

INSTANTIATE_TEST_SUITE_P(Cli, UsageError, ::testing::ValuesIn(kCases),
                         [](const auto& c) { return std::string(c.param.name); });

TEST(Help, IsAskedForSoItGoesToStdoutAndExitsZero) {
  CommandResult r = run({mkimg_binary(), "build", "--help"});
  EXPECT_EQ(r.exit_code, 0) << r.all();
  EXPECT_NE(r.out.find("Usage:"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace mkimg::testing
