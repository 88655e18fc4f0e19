// `mkimg run IMAGE COMMAND...`: the command's own arguments, dashes included, reach the
// container as written; its exit code is mkimg's.
#include "tests/support/builder_fixture.h"

namespace mkimg::testing {
namespace {

class RunCommandTest : public BuilderTest {};

TEST_F(RunCommandTest, DashArgumentsBelongToTheCommand) {
  auto stat = run_image("busybox:latest", {"stat", "-c", "%a", "/"});
  ASSERT_EQ(stat.exit_code, 0) << stat.all();
  EXPECT_EQ(stat.out, "755\n");
  auto echo = run_image("busybox:latest", {"echo", "--rm", "-n", "x"});
  ASSERT_EQ(echo.exit_code, 0) << echo.all();
  EXPECT_EQ(echo.out, "--rm -n x\n");  // busybox echo takes -n only as the first argument
  auto dashdash = run_image("busybox:latest", {"--", "echo", "-n", "y"});
  EXPECT_EQ(dashdash.out, "y");
  auto failing = run_image("busybox:latest", {"sh", "-c", "exit 3"});
  EXPECT_EQ(failing.exit_code, 3) << failing.all();
}

TEST_F(RunCommandTest, OptionValuesAreNeverTakenForTheImage) {
  // A global option with a value before `run`, run's own value options in every spelling
  // (clustered, attached, `--opt=`): the image and the command are found after them.
  auto r = run({mkimg_binary(), "--root", store().string(), "--max-layer-size", "1g", "run", "-ie",
                "A=1", "-eB=2", "--env", "C=3", "--entrypoint=", "-w", "/tmp", "busybox", "sh",
                "-c", "echo $A$B$C $(pwd) -e"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(r.out, "123 /tmp -e\n");
}

}  // namespace
}  // namespace mkimg::testing
