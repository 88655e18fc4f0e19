// COPY written straight from its sources into the layer (builder/copy/plan.h): for every case
// the image is byte for byte the one the overlay path makes (MKIMG_COPY_PATH=overlay), the
// direct path is really taken where it applies (and not where it must not be), a COPY that a
// later step reads is written to disk beside its layer, and a layer written without files is
// unpacked lazily when a later build, RUN or `mkimg run` needs them.
#include <nlohmann/json.hpp>

#include "tests/support/builder_fixture.h"

namespace mkimg::testing {
namespace {

constexpr const char* kDirect = "written from the sources";

class CopyDirectTest : public BuilderTest {
 protected:
  void SetUp() override {
    BuilderTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    // A base whose directories carry owners, modes, an xattr and old mtimes of their own.
    fs::path base = dir("base");
    ASSERT_EQ(run({"cp", "-a", dir("busybox").string(), base.string()}).exit_code, 0);
    sh("mkdir -p usr/local/bin opt && chmod 0700 opt && chown 5:6 opt && "
       "setfattr -n user.kept -v yes opt && ln -s usr lnk && echo old > etc/existing && "
       "find usr opt etc lnk -exec touch -h -d @1000000000 {} +",
       base);
    auto imported = run_mkimg(store(), {"import", base.string(), "base:latest"});
    ASSERT_EQ(imported.exit_code, 0) << imported.all();
    // A context with nested directories, modes, a symlink, hardlinks and an empty directory.
    fs::path ctx = dir("ctx");
    fs::create_directories(ctx);
    sh("mkdir -p tree/sub tree/empty && echo a > tree/sub/a.txt && echo b > tree/sub/b.txt && "
       "printf '#!/bin/sh\\necho run\\n' > tree/sub/run.sh && chmod 0755 tree/sub/run.sh && "
       "chmod 0750 tree/sub && ln -s sub/a.txt tree/link && echo same > tree/hard1 && "
       "ln tree/hard1 tree/hard2 && find tree -exec touch -h -d @1100000000 {} +",
       ctx);
  }

  void sh(const std::string& script, const fs::path& cwd) {
    auto r = run({"sh", "-c", "cd \"$1\" && " + script, "sh", cwd.string()});
    ASSERT_EQ(r.exit_code, 0) << script << "\n" << r.all();
  }

  /// Builds `dockerfile` with the context `ctx` as `tag`; `overlay` forces the overlay path.
  CommandResult build_file(const std::string& dockerfile, const std::string& tag, bool overlay) {
    write_file(dir("ctx") / "Dockerfile", dockerfile);
    std::map<std::string, std::string> env{{"SOURCE_DATE_EPOCH", "1500000000"}};
    if (overlay) env["MKIMG_COPY_PATH"] = "overlay";
    return run_mkimg(store(),
                     {"--log-level", "debug", "build", "--progress", "plain", "--no-cache", "-t",
                      tag, dir("ctx").string()},
                     env);
  }

  std::string digest(const std::string& image) {
    auto r = run_mkimg(store(), {"inspect", image});
    if (r.exit_code != 0) return "inspect failed: " + r.all();
    return nlohmann::json::parse(r.out).at(0).at("Digest").get<std::string>();
  }

  /// Builds both ways and expects the same image; returns the direct build's output.
  std::string same_both_ways(const std::string& dockerfile) {
    auto overlay = build_file(dockerfile, "copy:overlay", true);
    EXPECT_EQ(overlay.exit_code, 0) << overlay.all();
    EXPECT_EQ(count(overlay.all(), kDirect), 0) << overlay.all();
    auto direct = build_file(dockerfile, "copy:direct", false);
    EXPECT_EQ(direct.exit_code, 0) << direct.all();
    std::string a = digest("copy:overlay"), b = digest("copy:direct");
    if (a != b) {
      auto d = run_mkimg(store(), {"diff", "copy:overlay", "copy:direct"});
      ADD_FAILURE() << dockerfile << "\n" << a << " != " << b << "\n" << d.all();
    }
    return direct.all();
  }
};

TEST_F(CopyDirectTest, NewDirectoryTreeIsTheSameAsThroughTheOverlay) {
  auto out = same_both_ways("FROM base:latest\nCOPY tree /data\n");
  EXPECT_EQ(count(out, kDirect), 1) << out;
}

TEST_F(CopyDirectTest, MergeIntoAnImageDirectoryKeepsItsOwnerModeAndXattr) {
  auto out = same_both_ways("FROM base:latest\nWORKDIR /opt\nCOPY tree .\n");
  EXPECT_EQ(count(out, kDirect), 1) << out;
}

TEST_F(CopyDirectTest, FileBelowExistingDirectories) {
  auto out = same_both_ways("FROM base:latest\nCOPY tree/sub/a.txt /usr/local/bin/\n");
  EXPECT_EQ(count(out, kDirect), 1) << out;
}

TEST_F(CopyDirectTest, ChownOwnsCreatedParents) {
  auto out =
      same_both_ways("FROM base:latest\nCOPY --chown=7:8 --chmod=0640 tree /new/deep/dir/\n");
  EXPECT_EQ(count(out, kDirect), 1) << out;
}

TEST_F(CopyDirectTest, SymbolicChmodAppliesToEachFilesOwnMode) {
  sh("chmod 0666 tree/sub/a.txt && chmod 0640 tree/sub/b.txt", dir("ctx"));
  auto out = same_both_ways(
      "FROM base:latest\nCOPY --chmod=u+x,go-w tree /sym/\n"
      "COPY --chmod=a=rX <<EOF /sym/here\nhi\nEOF\n"
      "COPY --chmod=go=u-w tree/sub/b.txt /sym/b.copy\n"
      "RUN stat -c '%a %n' /sym /sym/sub /sym/sub/a.txt /sym/sub/b.txt /sym/sub/run.sh "
      "/sym/here /sym/b.copy\n");
  for (const char* line :
       {"755 /sym\n", "750 /sym/sub\n", "744 /sym/sub/a.txt\n", "740 /sym/sub/b.txt\n",
        "755 /sym/sub/run.sh\n", "444 /sym/here\n", "644 /sym/b.copy\n"}) {
    EXPECT_EQ(count(out, std::string("| ") + line), 1) << line << out;
  }
  auto bad = build_file("FROM base:latest\nCOPY --chmod=u+q tree /t\n", "copy:bad", false);
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.all().find("u+q"), std::string::npos) << bad.all();
}

TEST_F(CopyDirectTest, HeredocSeveralSourcesAndWildcards) {
  auto out = same_both_ways(
      "FROM base:latest\nCOPY <<EOF /etc/greeting\nhello\nEOF\n"
      "COPY tree/sub/*.txt tree/link /more/\n");
  // The heredoc's COPY is read by the next one: its files are written beside its layer.
  EXPECT_EQ(count(out, kDirect), 2) << out;
  EXPECT_EQ(count(out, "beside the files"), 1) << out;
}

TEST_F(CopyDirectTest, OneSourceIsDirectTwoSourcesMeetingAtAPathAreNot) {
  // One source without hardlinks: its paths cannot meet, and are not indexed (copy/direct.cpp).
  auto out = same_both_ways("FROM base:latest\nCOPY tree/sub /only/\n");
  EXPECT_EQ(count(out, kDirect), 1) << out;
  // The same directory twice: every path written twice, which the overlay path does.
  out = same_both_ways("FROM base:latest\nCOPY tree/sub tree/sub /twice/\n");
  EXPECT_EQ(count(out, kDirect), 0) << out;
}

TEST_F(CopyDirectTest, FromAnotherStage) {
  auto out = same_both_ways(
      "FROM base:latest AS b\nCOPY tree /t\n"
      "FROM base:latest\nCOPY --from=b /t /copied\n");
  // Stage b is read by the last stage: its files are written beside its layer.
  EXPECT_EQ(count(out, kDirect), 2) << out;
  EXPECT_EQ(count(out, "beside the files"), 1) << out;
}

TEST_F(CopyDirectTest, ReplacingTakesTheOverlayAndASymlinkIsResolvedFirst) {
  auto out = same_both_ways("FROM base:latest\nCOPY tree/sub/a.txt /etc/existing\n");
  EXPECT_EQ(count(out, kDirect), 0) << out;
  // The destination resolves through /lnk -> /usr in the image first, so the COPY writes new
  // paths below /usr/local: straight into the layer, the same image as the overlay path.
  out = same_both_ways("FROM base:latest\nCOPY tree/sub/a.txt /lnk/local/\n");
  EXPECT_EQ(count(out, kDirect), 1) << out;
  auto r = run_image("copy:direct", {"cat", "/usr/local/a.txt"});
  EXPECT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(r.out, "a\n");
}

TEST_F(CopyDirectTest, LayerIsUnpackedWhenSomethingNeedsItLater) {
  auto first = build_file("FROM base:latest\nCOPY tree /data\n", "data:v1", false);
  ASSERT_EQ(first.exit_code, 0) << first.all();
  ASSERT_EQ(count(first.all(), kDirect), 1) << first.all();
  // `mkimg run` of that image.
  auto r = run_image("data:v1", {"sh", "-c", "cat /data/link /data/hard2; /data/sub/run.sh"});
  EXPECT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(r.out, "a\nsame\nrun\n");
  // A build on top of it.
  write_file(dir("ctx") / "Dockerfile", "FROM data:v1\nRUN cat /data/sub/b.txt > /b\n");
  auto on_top = build(dir("ctx"), {"-t", "data:v2"});
  ASSERT_EQ(on_top.exit_code, 0) << on_top.all();
  r = run_image("data:v2", {"cat", "/b"});
  EXPECT_EQ(r.out, "b\n") << r.all();
  // The same COPY, now cached, followed by a RUN in the same stage.
  write_file(dir("ctx") / "Dockerfile",
             "FROM base:latest\nCOPY tree /data\nRUN stat -c '%a %u' /data/sub > /mode\n");
  auto again =
      run_mkimg(store(), {"build", "--progress", "plain", "-t", "data:v3", dir("ctx").string()},
                {{"SOURCE_DATE_EPOCH", "1500000000"}});
  ASSERT_EQ(again.exit_code, 0) << again.all();
  EXPECT_EQ(count(again.all(), "CACHED"), 1) << again.all();
  r = run_image("data:v3", {"cat", "/mode"});
  EXPECT_EQ(r.out, "750 0\n") << r.all();
}

TEST_F(CopyDirectTest, CopyFollowedByRunWritesTheFilesBesideTheLayer) {
  // The layer is written from the sources while the files are written to disk for the RUN,
  // which lists what it sees: the same image as through the overlay alone.
  auto out = same_both_ways(
      "FROM base:latest\nWORKDIR /opt\nCOPY tree sub/\nCOPY --chown=3:4 tree /new/deep/\n"
      "RUN find /opt /new | sort | xargs stat -c '%n %F %a %u:%g %s %h' > /listing\n");
  EXPECT_EQ(count(out, "written from the sources beside the files"), 2) << out;
  auto r = run_image("copy:direct", {"sh", "-c", "grep -c . /listing; cat /opt/sub/link"});
  EXPECT_EQ(r.out, "20\na\n") << r.all();
}

}  // namespace
}  // namespace mkimg::testing
