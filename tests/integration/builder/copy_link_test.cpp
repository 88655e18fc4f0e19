// COPY --link as BuildKit documents it (Docker 20.10's BuildKit v0.8 cannot parse --link, so
// these follow the Dockerfile reference, "COPY --link"): the files are copied onto an empty
// root and that layer is stacked on the stage's, so a change above the COPY keeps it cached and
// its blob reused (a rebase), the image equals a --no-cache build's, directories the COPY
// creates replace those below with their own metadata (0755, root), a symlink below is not
// followed, and --chmod turns --link off (BuildKit does the same). --cache-to mode=min
// follows the chains on both sides of a linked COPY.
#include <nlohmann/json.hpp>

#include "tests/support/builder_fixture.h"

namespace mkimg::testing {
namespace {

class CopyLinkTest : public BuilderTest {
 protected:
  void SetUp() override {
    BuilderTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    write_file(dir("ctx") / "f.txt", "linked\n");
  }

  CommandResult build_file(const std::string& dockerfile, std::vector<std::string> flags = {},
                           const fs::path& root = {}) {
    write_file(dir("ctx") / "Dockerfile", dockerfile);
    std::vector<std::string> args{"build", "--progress", "plain"};
    args.insert(args.end(), flags.begin(), flags.end());
    args.push_back(dir("ctx").string());
    return run_mkimg(root.empty() ? store() : root, args, {{"SOURCE_DATE_EPOCH", "1600000000"}});
  }

  nlohmann::json inspect(const std::string& image) {
    auto r = run_mkimg(store(), {"inspect", image});
    return nlohmann::json::parse(r.out).at(0);
  }

  std::vector<std::string> layers(const std::string& image) {
    std::vector<std::string> out;
    const nlohmann::json image_json = inspect(image);
    for (const auto& l : image_json.at("Manifest").at("layers")) out.push_back(l.at("digest"));
    return out;
  }
};

TEST_F(CopyLinkTest, AChangeAboveKeepsTheCopyCachedAndItsBlob) {
  auto dockerfile = [](const std::string& word) {
    return "FROM busybox\nRUN echo " + word +
           " > /above\nCOPY --link f.txt /app/\n"
           "RUN cat /app/f.txt /above > /below\n";
  };
  auto first = build_file(dockerfile("one"), {"-t", "link:1"});
  ASSERT_EQ(first.exit_code, 0) << first.all();
  auto second = build_file(dockerfile("two"), {"-t", "link:2"});
  ASSERT_EQ(second.exit_code, 0) << second.all();
  EXPECT_EQ(count(second.err, "CACHED COPY --link"), 1) << second.err;
  EXPECT_EQ(count(second.err, "CACHED RUN"), 0) << second.err;
  auto l1 = layers("link:1"), l2 = layers("link:2");
  ASSERT_EQ(l1.size(), 4u);
  ASSERT_EQ(l2.size(), 4u);
  EXPECT_EQ(l1[0], l2[0]);
  EXPECT_NE(l1[1], l2[1]);
  EXPECT_EQ(l1[2], l2[2]) << "the linked layer's blob is reused";
  EXPECT_EQ(run_image("link:2", {"cat", "/below"}).out, "linked\ntwo\n");

  // The image is the one a build without the cache makes.
  auto fresh = build_file(dockerfile("two"), {"--no-cache", "-t", "link:fresh"});
  ASSERT_EQ(fresh.exit_code, 0) << fresh.all();
  EXPECT_EQ(inspect("link:fresh").at("Digest"), inspect("link:2").at("Digest"));

  // --chmod turns --link off, as in BuildKit: the COPY chains to the step above again.
  auto chmod1 = build_file("FROM busybox\nRUN echo a > /x\nCOPY --link --chmod=600 f.txt /f\n");
  ASSERT_EQ(chmod1.exit_code, 0) << chmod1.all();
  auto chmod2 = build_file("FROM busybox\nRUN echo b > /x\nCOPY --link --chmod=600 f.txt /f\n");
  ASSERT_EQ(chmod2.exit_code, 0) << chmod2.all();
  EXPECT_EQ(count(chmod2.err, "CACHED COPY"), 0) << chmod2.err;
}

TEST_F(CopyLinkTest, CreatedDirectoriesReplaceThoseBelowAndSymlinksAreNotFollowed) {
  auto r = build_file(
      "FROM busybox\nRUN mkdir -p /opt && chmod 0700 /opt && chown 5:6 /opt && "
      "ln -s /usr /lnk && echo linkuser:x:1234:1234::/:/bin/sh >> /etc/passwd && "
      "echo linkuser:x:1234: >> /etc/group\n"
      "COPY --link f.txt /opt/sub/\nCOPY --link f.txt /lnk/f.txt\n"
      "COPY --link --chown=linkuser f.txt /owned/f.txt\n",
      {"-t", "link:dirs"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  auto ran = run_image("link:dirs", {"sh", "-c",
                                     "stat -c '%a %u:%g %F %n' /opt /opt/sub /lnk /owned "
                                     "/owned/f.txt; ls /usr/f.txt 2>&1 || true"});
  EXPECT_EQ(ran.out,
            "755 0:0 directory /opt\n755 0:0 directory /opt/sub\n755 0:0 directory /lnk\n"
            "755 1234:1234 directory /owned\n644 1234:1234 regular file /owned/f.txt\n"
            "ls: /usr/f.txt: No such file or directory\n")
      << ran.all();
}

TEST_F(CopyLinkTest, ModeMinCacheFollowsBothSidesOfALink) {
  const std::string dockerfile =
      "FROM busybox\nRUN echo a > /a\nCOPY --link f.txt /app/\nRUN cat /app/f.txt > /b\n";
  const fs::path cache = dir("cache");
  auto first = build_file(dockerfile,
                          {"-t", "link:cache", "--cache-to", "type=local,dest=" + cache.string()});
  ASSERT_EQ(first.exit_code, 0) << first.all();
  // A new store (a fresh CI runner) with the same base reads the cache: every step is a hit.
  const fs::path other = dir("other-store");
  const std::string base = dir("base.tar").string();
  ASSERT_EQ(run_mkimg(store(), {"save", "--format", "oci", "busybox:latest", "-o", base}).exit_code,
            0);
  ASSERT_EQ(run_mkimg(other, {"load", "-i", base}).exit_code, 0);
  auto second = build_file(dockerfile, {"--cache-from", "type=local,src=" + cache.string()}, other);
  ASSERT_EQ(second.exit_code, 0) << second.all();
  EXPECT_EQ(count(second.err, "CACHED"), 3) << second.err;
}

}  // namespace
}  // namespace mkimg::testing
