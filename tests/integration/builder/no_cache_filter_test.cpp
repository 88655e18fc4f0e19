// `build --no-cache-filter STAGE[,STAGE]`: the named stages run again, the others keep their
// cache; a COPY --from a stage that ran again brings its new files; an unknown name is refused.
#include "tests/support/builder_fixture.h"

namespace mkimg::testing {
namespace {

const char* const kDockerfile = kTwoStagesWithRandomIds;

class NoCacheFilterTest : public BuilderTest {
 protected:
  void SetUp() override {
    BuilderTest::SetUp();
    if (IsSkipped()) return;
    write_file(dir("ctx") / "Dockerfile", kDockerfile);
  }

  /// The two ids the image holds ("<first-id>\n<second-id>\n").
  std::string ids(const std::string& image) {
    auto r = run_image(image);
    EXPECT_EQ(r.exit_code, 0) << r.all();
    return r.out;
  }
};

TEST_F(NoCacheFilterTest, RunsTheNamedStageAgainAndKeepsTheOthersCache) {
  auto first = build(dir("ctx"), {"-t", "ncf:1"});
  ASSERT_EQ(first.exit_code, 0) << first.all();
  std::string before = ids("ncf:1");
  auto line = [](const std::string& out, int n) {
    std::size_t start = 0;
    for (int i = 0; i < n; ++i) start = out.find('\n', start) + 1;
    return out.substr(start, out.find('\n', start) - start);
  };

  // Stage `first` runs again: a new id, which the COPY --from in `second` brings along.
  auto again = build(dir("ctx"), {"-t", "ncf:1", "--no-cache-filter", "first"});
  ASSERT_EQ(again.exit_code, 0) << again.all();
  EXPECT_EQ(again.err.find("CACHED RUN cat /proc/sys/kernel/random/uuid > /first-id"),
            std::string::npos)
      << again.err;
  EXPECT_NE(again.err.find("CACHED RUN cat /proc/sys/kernel/random/uuid > /second-id"),
            std::string::npos)
      << again.err;
  std::string after = ids("ncf:1");
  EXPECT_NE(line(after, 0), line(before, 0)) << before << after;
  EXPECT_EQ(line(after, 1), line(before, 1)) << before << after;
  EXPECT_NE(image_id(again), image_id(first));

  // Stage `second` (any case) runs again; `first` is cached with the id it has now.
  auto other = build(dir("ctx"), {"-t", "ncf:1", "--no-cache-filter", "SECOND"});
  ASSERT_EQ(other.exit_code, 0) << other.all();
  EXPECT_NE(other.err.find("CACHED RUN cat /proc/sys/kernel/random/uuid > /first-id"),
            std::string::npos)
      << other.err;
  EXPECT_EQ(other.err.find("CACHED RUN cat /proc/sys/kernel/random/uuid > /second-id"),
            std::string::npos)
      << other.err;
  std::string last = ids("ncf:1");
  EXPECT_EQ(line(last, 0), line(after, 0)) << after << last;
  EXPECT_NE(line(last, 1), line(after, 1)) << after << last;

  // Both, as a list and as a repeated flag: nothing is cached.
  auto both = build(dir("ctx"), {"-t", "ncf:1", "--no-cache-filter", "first,second"});
  ASSERT_EQ(both.exit_code, 0) << both.all();
  EXPECT_EQ(count(both.err, "CACHED"), 0) << both.err;
  auto repeated = build(
      dir("ctx"), {"-t", "ncf:1", "--no-cache-filter", "first", "--no-cache-filter", "second"});
  ASSERT_EQ(repeated.exit_code, 0) << repeated.all();
  EXPECT_EQ(count(repeated.err, "CACHED"), 0) << repeated.err;
}

TEST_F(NoCacheFilterTest, RefusesAStageNameTheDockerfileDoesNotHave) {
  auto r = build(dir("ctx"), {"-t", "ncf:1", "--no-cache-filter", "first,frist"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("frist"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("no stage of that name"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("RUN cat"), std::string::npos) << "the build ran\n" << r.err;
  // --dry-run checks it too.
  auto dry = build(dir("ctx"), {"--dry-run", "--no-cache-filter", "frist"});
  EXPECT_NE(dry.exit_code, 0);
  EXPECT_NE(dry.err.find("frist"), std::string::npos) << dry.err;
}

// A stage FROM a re-run stage runs again too: its cached layers were made on the old ones, so
// keeping them would stack them on layers they were never built on.
TEST_F(NoCacheFilterTest, AStageFromARerunStageRunsAgainToo) {
  write_file(dir("ctx") / "Dockerfile",
             "FROM busybox AS base\n"
             "RUN cat /proc/sys/kernel/random/uuid > /base-id\n"
             "FROM base AS app\n"
             "RUN cp /base-id /seen-base-id\n"
             "CMD [\"cat\", \"/base-id\", \"/seen-base-id\"]\n");
  ASSERT_EQ(build(dir("ctx"), {"-t", "chain:1"}).exit_code, 0);
  auto again = build(dir("ctx"), {"-t", "chain:1", "--no-cache-filter", "base"});
  ASSERT_EQ(again.exit_code, 0) << again.all();
  EXPECT_EQ(count(again.err, "CACHED"), 0) << again.err;
  std::string out = ids("chain:1");
  std::size_t nl = out.find('\n');
  ASSERT_NE(nl, std::string::npos) << out;
  EXPECT_EQ(out.substr(0, nl + 1), out.substr(nl + 1)) << out;
}

}  // namespace
}  // namespace mkimg::testing
