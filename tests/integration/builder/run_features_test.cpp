// RUN features end to end: many layers in one stage (beyond mount(2)'s one-page option
// string), heredocs, secret and ssh mounts, odd files in the context.
#include <sys/stat.h>

#include "tests/integration/builder/builder_fixture.h"

namespace mkimg::testing {
namespace {

class RunFeaturesTest : public BuilderTest {};

TEST_F(RunFeaturesTest, OneHundredTwentyRunStepsAllVisibleInTheLastRun) {
  std::string dockerfile = "FROM busybox\n";
  for (int i = 1; i <= 120; ++i) dockerfile += "RUN touch /f" + std::to_string(i) + "\n";
  dockerfile +=
      "RUN n=0; for i in $(seq 1 120); do test -e /f$i && n=$((n+1)); done; "
      "echo $n > /count; test $n = 120\n";
  write_file(dir("ctx") / "Dockerfile", dockerfile);
  auto r = build(dir("ctx"), {"-t", "many:1"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  auto ran = run_image("many:1", {"cat", "/count"});
  ASSERT_EQ(ran.exit_code, 0) << ran.all();
  EXPECT_EQ(ran.out, "120\n");
  auto again = build(dir("ctx"), {"-t", "many:1"});  // all cached, same image
  ASSERT_EQ(again.exit_code, 0) << again.all();
  EXPECT_EQ(image_id(again), image_id(r));
}

}  // namespace
}  // namespace mkimg::testing
