// --log-level / MKIMG_LOG_LEVEL: debug lines ("mkimg: [debug] ...") tell cache decisions, the
// runtime command line, overlay options and layer commits; the default level prints none.
#include "tests/support/builder_fixture.h"

namespace mkimg::testing {
namespace {

class LogLevelTest : public BuilderTest {
 protected:
  void SetUp() override {
    BuilderTest::SetUp();
    write_file(dir("ctx") / "Dockerfile", "FROM busybox\nCOPY file.txt /file.txt\nRUN echo hi\n");
    write_file(dir("ctx") / "file.txt", "x\n");
  }
};

TEST_F(LogLevelTest, DefaultPrintsNoLogLines) {
  auto r = run_mkimg(store(), {"build", "--progress", "plain", dir("ctx").string()},
                     {{"MKIMG_LOG_LEVEL", ""}});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(r.err.find("mkimg: ["), std::string::npos) << r.err;
}

TEST_F(LogLevelTest, DebugTellsCacheDecisionsRuntimeAndLayers) {
  auto r = run_mkimg(store(),
                     {"--log-level", "debug", "build", "--progress", "plain", dir("ctx").string()});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_NE(r.err.find("mkimg: [debug] cache miss sha256:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("mkimg: [debug] runtime: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(" run --bundle "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("mkimg: [debug] overlay mount "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("lowerdir="), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("mkimg: [debug] layer committed: sha256:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("mkimg: [debug] context hashing: 1 files hashed, 0 memo hits"),
            std::string::npos)
      << r.err;
  // The plain progress lines are unchanged around the log lines.
  EXPECT_NE(r.err.find("\n# [3/3] | hi\n"), std::string::npos) << r.err;

  // MKIMG_LOG_LEVEL is the default of --log-level: the rebuild logs its cache hits.
  auto again = run_mkimg(store(), {"build", "--progress", "plain", dir("ctx").string()},
                         {{"MKIMG_LOG_LEVEL", "debug"}});
  ASSERT_EQ(again.exit_code, 0) << again.all();
  EXPECT_NE(again.err.find("mkimg: [debug] cache hit sha256:"), std::string::npos) << again.err;
  EXPECT_NE(again.err.find("0 files hashed, 1 memo hits"), std::string::npos) << again.err;
  EXPECT_EQ(again.err.find("cache miss"), std::string::npos) << again.err;

  // The flag wins over the variable.
  auto quiet = run_mkimg(
      store(), {"--log-level", "warn", "build", "--progress", "plain", dir("ctx").string()},
      {{"MKIMG_LOG_LEVEL", "debug"}});
  ASSERT_EQ(quiet.exit_code, 0) << quiet.all();
  EXPECT_EQ(quiet.err.find("mkimg: ["), std::string::npos) << quiet.err;
}

TEST_F(LogLevelTest, BadLevelInTheVariableIsRefused) {
  auto r = run_mkimg(store(), {"images"}, {{"MKIMG_LOG_LEVEL", "chatty"}});
  EXPECT_NE(r.exit_code, 0) << r.all();
  EXPECT_NE(r.err.find("chatty"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace mkimg::testing
