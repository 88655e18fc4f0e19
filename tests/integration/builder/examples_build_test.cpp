// Every example builds, runs with its expected output, unpacks with umoci, and rebuilds fully
// from the cache with the same image id.
#include "tests/support/builder_fixture.h"

namespace mkimg::testing {
namespace {

struct Example {
  std::string name;
  std::vector<std::string> build_args;
  std::vector<std::string> expected;    // lines `mkimg run` prints
  std::vector<std::string> unexpected;  // must not appear
};

class ExamplesTest : public BuilderTest, public ::testing::WithParamInterface<Example> {};

TEST_P(ExamplesTest, BuildsRunsUnpacksAndRebuildsFullyCached) {
  const Example& ex = GetParam();
  fs::path context = source_dir() / "examples" / ex.name;
  std::vector<std::string> args{"-t", ex.name + ":test"};
  args.insert(args.end(), ex.build_args.begin(), ex.build_args.end());
  auto first = build(context, args);
  ASSERT_EQ(first.exit_code, 0) << first.all();
  auto ran = run_image(ex.name + ":test");
  ASSERT_EQ(ran.exit_code, 0) << ran.all();
  for (const auto& e : ex.expected) EXPECT_NE(ran.out.find(e), std::string::npos) << ran.all();
  for (const auto& u : ex.unexpected) EXPECT_EQ(ran.out.find(u), std::string::npos) << ran.all();

  if (have_tool("umoci")) {
    auto unpacked =
        run({"umoci", "raw", "unpack", "--image",
             (store() / "oci").string() + ":" + ex.name + ":test", dir("unpacked").string()});
    EXPECT_EQ(unpacked.exit_code, 0) << unpacked.all();
    EXPECT_TRUE(fs::exists(dir("unpacked") / "bin/busybox"));
  }

  auto second = build(context, args);
  ASSERT_EQ(second.exit_code, 0) << second.all();
  EXPECT_EQ(image_id(second), image_id(first));
  EXPECT_EQ(count(second.err, "DONE"), 0) << second.err;
  EXPECT_GT(count(second.err, "CACHED"), 0) << second.err;
}

INSTANTIATE_TEST_SUITE_P(
    Examples, ExamplesTest,
    ::testing::Values(
        Example{"hello", {}, {"Hello from an image built by mkimg.", "built by mkimg"}, {}},
        Example{"multi-stage", {}, {"Hello from the multi-stage example"}, {}},
        Example{"build-args",
                {"--build-arg", "AUDIENCE=tests"},
                {"Hello, tests!", "data.txt", "message.txt", "1000"},
                {"secret.txt", "debug.log"}}),
    [](const auto& param_info) {
      std::string n = param_info.param.name;
      for (char& c : n) {
        if (c == '-') c = '_';
      }
      return n;
    });

}  // namespace
}  // namespace mkimg::testing
