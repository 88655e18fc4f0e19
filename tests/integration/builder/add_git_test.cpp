// ADD of a git repository and --build-context NAME=<git URL>, against a real `git daemon` on
// loopback (never the internet). Docker 20.10's Dockerfile frontend (BuildKit v0.8) has no ADD
// of a git repository and no named contexts, so these follow BuildKit's documented behaviour:
// URL#REF:SUBDIR, the key is the commit the ref resolves to (a new commit is a miss, the same
// commit a hit whatever the URL's ref name), .git is dropped unless --keep-git-dir, ADD --checksum
// is the commit the ref must be at.
#include <chrono>
#include <thread>

#include "tests/support/builder_fixture.h"

namespace mkimg::testing {
namespace {

class AddGitTest : public BuilderTest {
 protected:
  void SetUp() override {
    BuilderTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    if (!have_tool("git")) GTEST_SKIP() << "git is not installed";
    repo_ = dir("srv") / "repo";
    fs::create_directories(repo_ / "sub");
    write_file(repo_ / "sub" / "a.txt", "one\n");
    write_file(repo_ / "top.txt", "top\n");
    git({"init", "-q", "-b", "main"});
    commit("first");
    git({"tag", "-a", "-m", "annotated", "v1"});
    // A port of our own: the test's pid spread over a range, the next one when taken.
    for (int attempt = 0; attempt < 20 && url_.empty(); ++attempt) {
      int port = 20000 + (::getpid() * 7 + attempt) % 20000;
      daemon_ = std::make_unique<ChildProcess>(
          std::vector<std::string>{"git", "daemon", "--export-all", "--reuseaddr",
                                   "--base-path=" + dir("srv").string(), "--listen=127.0.0.1",
                                   "--port=" + std::to_string(port)},
          dir("daemon.log"));
      std::string u = "git://127.0.0.1:" + std::to_string(port) + "/repo";
      if (wait_until(
              [&] {
                return run({"git", "ls-remote", u}).exit_code == 0;
              },
              std::chrono::seconds(5))) {
        url_ = u;
      } else {
        daemon_.reset();
      }
    }
    ASSERT_FALSE(url_.empty()) << read_file(dir("daemon.log"));
  }

  void TearDown() override {
    daemon_.reset();
    BuilderTest::TearDown();
  }

  void git(std::vector<std::string> args) {
    args.insert(args.begin(), {"git", "-C", repo_.string(), "-c", "user.email=t@example.com", "-c",
                               "user.name=t"});
    auto r = run(args);
    ASSERT_EQ(r.exit_code, 0) << r.all();
  }
  void commit(const std::string& message) {
    git({"add", "-A"});
    git({"commit", "-q", "-m", message});
  }
  std::string head() {
    return run({"git", "-C", repo_.string(), "rev-parse", "HEAD"}).out.substr(0, 40);
  }

  CommandResult build_file(const std::string& dockerfile, std::vector<std::string> flags = {}) {
    write_file(dir("ctx") / "Dockerfile", dockerfile);
    return build(dir("ctx"), flags);
  }

  fs::path repo_;
  std::string url_;
  std::unique_ptr<ChildProcess> daemon_;
};

TEST_F(AddGitTest, AddClonesTheRefAndIsKeyedByItsCommit) {
  const std::string dockerfile = "FROM busybox\nADD " + url_ + "#v1 /tagged/\nADD " + url_ +
                                 "#main:sub /src\nADD --keep-git-dir " + url_ + " /kept\n";
  auto first = build_file(dockerfile, {"-t", "git:1"});
  ASSERT_EQ(first.exit_code, 0) << first.all();
  auto ran = run_image("git:1", {"sh", "-c",
                                 "cat /src/a.txt; ls -A /src; cat /tagged/top.txt; ls -A /tagged; "
                                 "test -d /kept/.git && echo kept"});
  EXPECT_EQ(ran.out, "one\na.txt\ntop\nsub\ntop.txt\nkept\n") << ran.all();

  auto again = build_file(dockerfile, {"-t", "git:1"});
  ASSERT_EQ(again.exit_code, 0) << again.all();
  EXPECT_EQ(count(again.err, "CACHED ADD"), 3) << again.err;

  // A new commit on main: the ADDs of main (and HEAD) miss, the tag's (first) stays cached.
  write_file(repo_ / "sub" / "a.txt", "two\n");
  commit("second");
  auto moved = build_file(dockerfile, {"-t", "git:1"});
  ASSERT_EQ(moved.exit_code, 0) << moved.all();
  EXPECT_EQ(count(moved.err, "CACHED ADD"), 1) << moved.err;
  EXPECT_EQ(count(moved.err, "CACHED ADD " + url_ + "#v1 "), 1) << moved.err;
  EXPECT_EQ(run_image("git:1", {"cat", "/src/a.txt"}).out, "two\n");

  // The same commit under another name (its full id) is the same key.
  auto by_id = build_file("FROM busybox\nADD " + url_ + "#" + head() + ":sub /src\n");
  ASSERT_EQ(by_id.exit_code, 0) << by_id.all();

  // The same commit gives the same layer: files carry the commit's time, not the clone's.
  auto twice = build_file("FROM busybox\nADD " + url_ + "#main /r\n", {"--no-cache", "-t", "t:1"});
  ASSERT_EQ(twice.exit_code, 0) << twice.all();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  auto thrice = build_file("FROM busybox\nADD " + url_ + "#main /r\n", {"--no-cache", "-t", "t:2"});
  ASSERT_EQ(thrice.exit_code, 0) << thrice.all();
  auto layers = [&](const std::string& image) {
    std::string out = run_mkimg(store(), {"inspect", image}).out;
    return out.substr(out.find("\"layers\""), 300);
  };
  EXPECT_EQ(layers("t:1"), layers("t:2"));
}

TEST_F(AddGitTest, ChecksumAndBadSourcesAreClearErrors) {
  const std::string id = head();
  auto good = build_file("FROM busybox\nADD --checksum=" + id + " " + url_ + "#main /r\n");
  EXPECT_EQ(good.exit_code, 0) << good.all();
  auto bad = build_file("FROM busybox\nADD --checksum=" + std::string(40, 'a') + " " + url_ +
                        "#main /r\n");
  EXPECT_EQ(bad.exit_code, 1) << bad.all();
  EXPECT_NE(bad.err.find("Dockerfile:2"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("the ref is at commit " + id), std::string::npos) << bad.err;

  auto no_ref = build_file("FROM busybox\nADD " + url_ + "#no-such-branch /r\n");
  EXPECT_EQ(no_ref.exit_code, 1) << no_ref.all();
  EXPECT_NE(no_ref.err.find("no such ref"), std::string::npos) << no_ref.err;

  auto no_repo = build_file("FROM busybox\nADD " + url_ + "-missing /r\n");
  EXPECT_EQ(no_repo.exit_code, 1) << no_repo.all();
  EXPECT_NE(no_repo.err.find("repo-missing"), std::string::npos) << no_repo.err;

  auto no_dir = build_file("FROM busybox\nADD " + url_ + "#main:nothere /r\n");
  EXPECT_EQ(no_dir.exit_code, 1) << no_dir.all();
  EXPECT_NE(no_dir.err.find("nothere"), std::string::npos) << no_dir.err;

  auto mixed = build_file("FROM busybox\nADD " + url_ + " Dockerfile /r/\n");
  EXPECT_EQ(mixed.exit_code, 1) << mixed.all();
  EXPECT_NE(mixed.err.find("only source"), std::string::npos) << mixed.err;
}

// The scp-like `git@host:repo` form goes through git's ssh transport. Without an ssh server
// here, GIT_SSH_COMMAND (which mkimg's git inherits, as an agent socket would be) runs the
// remote side's command locally: what ssh would run on the host, `git-upload-pack 'repo'`.
TEST_F(AddGitTest, ScpLikeUrlsGoThroughGitsSshTransport) {
  const fs::path ssh = dir("fake-ssh.sh");
  write_file(ssh,
             "#!/bin/sh\n# ssh [options] HOST COMMAND: run COMMAND in the served folder\n"
             "for last; do :; done\ncd '" +
                 dir("srv").string() + "' && exec sh -c \"$last\"\n");
  fs::permissions(ssh, fs::perms(0755));
  write_file(dir("ctx") / "Dockerfile", "FROM busybox\nADD git@127.0.0.1:repo#main:sub /src\n");
  auto r = run_mkimg(store(), {"build", "--progress", "plain", "-t", "ssh:1", dir("ctx").string()},
                     {{"GIT_SSH_COMMAND", ssh.string()}});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(run_image("ssh:1", {"cat", "/src/a.txt"}).out, "one\n");
}

TEST_F(AddGitTest, AGitBuildContextIsReadLikeADirectory) {
  const std::string dockerfile =
      "FROM busybox\nCOPY --from=lib a.txt /lib/\n"
      "RUN --mount=from=lib,target=/m cat /m/a.txt > /mounted\n";
  auto r =
      build_file(dockerfile, {"-t", "gitctx:1", "--build-context", "lib=" + url_ + "#main:sub"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(run_image("gitctx:1", {"cat", "/lib/a.txt", "/mounted"}).out, "one\none\n");
  auto again =
      build_file(dockerfile, {"-t", "gitctx:1", "--build-context", "lib=" + url_ + "#main:sub"});
  ASSERT_EQ(again.exit_code, 0) << again.all();
  EXPECT_EQ(count(again.err, "CACHED"), 2) << again.err;
  auto missing = build_file(dockerfile, {"--build-context", "lib=" + url_ + "#main:nothere"});
  EXPECT_EQ(missing.exit_code, 1) << missing.all();
  EXPECT_NE(missing.err.find("nothere"), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace mkimg::testing
