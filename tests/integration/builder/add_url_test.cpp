// ADD <http(s) URL>: downloads from a python http.server on loopback (http_files.py), file
// naming, mode/owner/mtime, --checksum, the cache, and clean failures.
#include <sys/stat.h>

#include "tests/support/builder_fixture.h"
#include "tests/support/registry_fixture.h"

namespace mkimg::testing {
namespace {

const char* kHello = "hello from the server\n";

class AddUrlTest : public BuilderTest {
 protected:
  void SetUp() override {
    BuilderTest::SetUp();
    if (IsSkipped()) return;
    write_file(files_ / "hello.txt", kHello);
    must_run("touch -d @1600000000 " + (files_ / "hello.txt").string());
    write_file(files_ / "sub/data.bin", "binary-ish\n");
    // A real tar archive (one file inside), which ADD must not unpack from a URL.
    write_file(dir("tarsrc") / "inside.txt", "inside\n");
    must_run("tar -C " + dir("tarsrc").string() + " -cf " + (files_ / "archive.tar").string() +
             " inside.txt && gzip -k " + (files_ / "archive.tar").string());
    port_ = free_port();
    server_ = ChildProcess({"python3", (source_dir() / "tests/support/http_files.py").string(),
                            "--port", std::to_string(port_), "--directory", files_.string()},
                           dir("http.log"));
    ASSERT_TRUE(wait_until([&] { return port_open(port_); })) << read_file(dir("http.log"));
    hello_sha_ = "sha256:" + sha256_hex(files_ / "hello.txt");
  }

  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/" + path;
  }

  static std::string sha256_hex(const fs::path& file) {
    auto r = run({"sha256sum", file.string()});
    return r.out.substr(0, 64);
  }

  /// Builds `dockerfile` in the context "ctx" as `tag`.
  CommandResult build_df(const std::string& dockerfile, const std::string& tag,
                         std::vector<std::string> extra = {}) {
    write_file(dir("ctx") / "Dockerfile", dockerfile);
    extra.insert(extra.begin(), {"-t", tag});
    return build(dir("ctx"), extra);
  }

  /// `stat -c '%a %u:%g %Y'` of a path in an image, and its content.
  std::string stat_in(const std::string& image, const std::string& path) {
    auto r = run_in(image, {"stat", "-c", "%F %a %u:%g %Y", path});
    EXPECT_EQ(r.exit_code, 0) << r.all();
    return r.out;
  }
  std::string cat_in(const std::string& image, const std::string& path) {
    auto r = run_image(image, {"cat", path});
    EXPECT_EQ(r.exit_code, 0) << r.all();
    return r.out;
  }

  /// How many times the server was asked for `path`.
  int requests_for(const std::string& path) {
    return count(read_file(dir("http.log")), "GET /" + path + " ");
  }

  /// True when the store's tmp/ holds no download directory (url_source.h's "add-url-*").
  bool no_download_left() const {
    if (!fs::exists(store() / "tmp")) return true;
    for (const auto& e : fs::directory_iterator(store() / "tmp")) {
      if (e.path().filename().string().starts_with("add-url-")) return false;
    }
    return true;
  }

  /// `mkimg run` with "--" before the command, so its own flags reach it.
  CommandResult run_in(const std::string& image, std::vector<std::string> cmd) {
    cmd.insert(cmd.begin(), {"run", "--rm", image, "--"});
    return run_mkimg(store(), cmd);
  }

  fs::path files_ = dir("files");
  int port_ = 0;
  ChildProcess server_;
  std::string hello_sha_;
};

TEST_F(AddUrlTest, ToAFileNamedByTheDestination) {
  auto r = build_df("FROM busybox\nADD " + url("hello.txt") + " /opt/greeting\n", "u:1");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(cat_in("u:1", "/opt/greeting"), kHello);
  // BuildKit: 0600, root, mtime from Last-Modified.
  EXPECT_EQ(stat_in("u:1", "/opt/greeting"), "regular file 600 0:0 1600000000\n");
  EXPECT_TRUE(no_download_left());
}

TEST_F(AddUrlTest, ToADirectoryTakesTheLastPathComponent) {
  auto r = build_df("FROM busybox\nWORKDIR /w\nADD " + url("sub/data.bin?version=2#frag") +
                        " dir/\n"
                        "ADD " +
                        url("cd/hello.txt") + " /cd/\n",
                    "u:1");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(cat_in("u:1", "/w/dir/data.bin"), "binary-ish\n");
  // The frontend names the file after the URL, never after Content-Disposition.
  EXPECT_EQ(cat_in("u:1", "/cd/hello.txt"), kHello);
  EXPECT_NE(run_in("u:1", {"test", "-e", "/cd/other-name.txt"}).exit_code, 0);
}

TEST_F(AddUrlTest, IntoAnExistingDirectoryAndAfterARedirect) {
  auto r = build_df("FROM busybox\nADD " + url("redirect/hello.txt") + " /etc\n", "u:1");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(cat_in("u:1", "/etc/hello.txt"), kHello);
}

TEST_F(AddUrlTest, WithoutLastModifiedTheMtimeIsTheEpoch) {
  auto r = build_df("FROM busybox\nADD " + url("nolm/hello.txt") + " /h\n", "u:1");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(stat_in("u:1", "/h"), "regular file 600 0:0 0\n");
}

TEST_F(AddUrlTest, ChownAndChmodApply) {
  auto r = build_df(
      "FROM busybox\nADD --chown=1234:2345 --chmod=0755 " + url("hello.txt") + " /x/h\n", "u:1");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(stat_in("u:1", "/x/h"), "regular file 755 1234:2345 1600000000\n");
}

TEST_F(AddUrlTest, ArchivesFromAUrlAreNotUnpacked) {
  auto r = build_df(
      "FROM busybox\nADD " + url("archive.tar") + " /a/\nADD " + url("archive.tar.gz") + " /a/\n",
      "u:1");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(run_in("u:1", {"test", "-f", "/a/archive.tar"}).exit_code, 0);
  EXPECT_EQ(run_in("u:1", {"test", "-f", "/a/archive.tar.gz"}).exit_code, 0);
  EXPECT_NE(run_in("u:1", {"test", "-e", "/a/inside.txt"}).exit_code, 0);
  auto sum = run_image("u:1", {"sha256sum", "/a/archive.tar"});
  EXPECT_EQ(sum.out.substr(0, 64), sha256_hex(files_ / "archive.tar"));
}

TEST_F(AddUrlTest, BuildArgsExpandInTheUrl) {
  auto r = build_df("FROM busybox\nARG BASE\nENV NAME=hello\nADD ${BASE}/${NAME}.txt /h\n", "u:1",
                    {"--build-arg", "BASE=http://127.0.0.1:" + std::to_string(port_)});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(cat_in("u:1", "/h"), kHello);
}

TEST_F(AddUrlTest, MatchingChecksumBuildsAndARebuildIsCachedWithoutADownload) {
  std::string df = "FROM busybox\nADD --checksum=" + hello_sha_ + " " + url("hello.txt") + " /h\n";
  auto first = build_df(df, "u:1");
  ASSERT_EQ(first.exit_code, 0) << first.all();
  EXPECT_EQ(cat_in("u:1", "/h"), kHello);
  EXPECT_EQ(requests_for("hello.txt"), 1);
  auto second = build_df(df, "u:1");
  ASSERT_EQ(second.exit_code, 0) << second.all();
  EXPECT_NE(second.err.find("CACHED ADD --checksum"), std::string::npos) << second.err;
  EXPECT_EQ(requests_for("hello.txt"), 1) << "a cache hit with --checksum downloads nothing";
  EXPECT_EQ(image_id(second), image_id(first));
}

TEST_F(AddUrlTest, WithoutChecksumTheContentIsTheKey) {
  std::string df = "FROM busybox\nADD " + url("hello.txt") + " /h\n";
  auto first = build_df(df, "u:1");
  ASSERT_EQ(first.exit_code, 0) << first.all();
  auto same = build_df(df, "u:1");
  ASSERT_EQ(same.exit_code, 0) << same.all();
  EXPECT_NE(same.err.find("CACHED ADD"), std::string::npos) << same.err;
  EXPECT_EQ(image_id(same), image_id(first));
  write_file(files_ / "hello.txt", "changed on the server\n");
  auto changed = build_df(df, "u:1");
  ASSERT_EQ(changed.exit_code, 0) << changed.all();
  EXPECT_EQ(changed.err.find("CACHED ADD"), std::string::npos) << changed.err;
  EXPECT_EQ(cat_in("u:1", "/h"), "changed on the server\n");
}

/// Every path below the store except tmp/, with sizes.
std::string listing_outside_tmp(const fs::path& store) {
  std::string out;
  for (auto it = fs::recursive_directory_iterator(store); it != fs::end(it); ++it) {
    fs::path rel = fs::relative(it->path(), store);
    if (*rel.begin() == "tmp") {
      it.disable_recursion_pending();
      continue;
    }
    out += rel.string();
    if (it->is_regular_file()) out += " " + std::to_string(it->file_size());
    out += "\n";
  }
  return out;
}

TEST_F(AddUrlTest, AKilledDownloadLeavesNothingOutsideTmp) {
  // A first build unpacks the base and makes the cache: what the killed one finds in place.
  ASSERT_EQ(build_df("FROM busybox\nADD " + url("hello.txt") + " /h\n", "w:1").exit_code, 0);
  write_file(dir("ctx") / "Dockerfile", "FROM busybox\nADD " + url("stall/hello.txt") + " /h\n");
  std::string before = listing_outside_tmp(store());
  ChildProcess b({mkimg_binary(), "--root", store().string(), "build", "--progress", "plain", "-t",
                  "k:1", dir("ctx").string()},
                 dir("killed.log"));
  auto downloading = [&] {
    if (!fs::exists(store() / "tmp")) return false;
    for (const auto& e : fs::recursive_directory_iterator(store() / "tmp")) {
      if (e.path().filename() == "download-0" && e.file_size() > 0) return true;
    }
    return false;
  };
  ASSERT_TRUE(wait_until(downloading)) << read_file(dir("killed.log"));
  b.kill();
  EXPECT_EQ(listing_outside_tmp(store()), before);
  auto tag = run_mkimg(store(), {"tag", "busybox", "again:1"});  // it empties tmp/
  EXPECT_EQ(tag.exit_code, 0) << tag.all();
  EXPECT_TRUE(no_download_left());
}

class AddUrlFailureTest : public AddUrlTest {
 protected:
  void SetUp() override {
    AddUrlTest::SetUp();
    if (IsSkipped()) return;
    auto good = build_df("FROM busybox\nRUN echo good > /good\n", "app:1");
    ASSERT_EQ(good.exit_code, 0) << good.all();
  }

  /// Builds `dockerfile` as app:1, expects a clean failure; returns stderr.
  std::string fail(const std::string& dockerfile) {
    auto r = build_df(dockerfile, "app:1");
    EXPECT_NE(r.exit_code, 0) << r.all();
    EXPECT_NE(r.err.find("mkimg: error:"), std::string::npos) << r.err;
    EXPECT_EQ(cat_in("app:1", "/good"), "good\n") << "the previous tag is intact";
    EXPECT_TRUE(no_download_left()) << "no download is left in the store";
    return r.err;
  }
};

TEST_F(AddUrlFailureTest, ChecksumMismatchNamesTheUrlAndBothDigests) {
  std::string wrong = "sha256:" + std::string(64, 'a');
  auto err =
      fail("FROM busybox\nRUN true\nADD --checksum=" + wrong + " " + url("hello.txt") + " /h\n");
  EXPECT_NE(err.find("Dockerfile:3"), std::string::npos) << err;
  EXPECT_NE(err.find(url("hello.txt")), std::string::npos) << err;
  EXPECT_NE(err.find(wrong), std::string::npos) << err;
  EXPECT_NE(err.find(hello_sha_), std::string::npos) << err;
}

TEST_F(AddUrlFailureTest, NotFoundNamesTheUrlAndTheStatus) {
  auto err = fail("FROM busybox\nADD " + url("missing.txt") + " /m\n");
  EXPECT_NE(err.find("Dockerfile:2"), std::string::npos) << err;
  EXPECT_NE(err.find(url("missing.txt")), std::string::npos) << err;
  EXPECT_NE(err.find("404"), std::string::npos) << err;
}

TEST_F(AddUrlFailureTest, ConnectionRefusedNamesTheUrl) {
  std::string nobody = "http://127.0.0.1:" + std::to_string(free_port()) + "/x.txt";
  auto err = fail("FROM busybox\nADD " + nobody + " /x\n");
  EXPECT_NE(err.find("Dockerfile:2"), std::string::npos) << err;
  EXPECT_NE(err.find(nobody), std::string::npos) << err;
}

TEST_F(AddUrlFailureTest, TlsFailureNamesTheUrl) {
  // A plain HTTP server asked for TLS: the handshake fails.
  std::string https = "https://127.0.0.1:" + std::to_string(port_) + "/hello.txt";
  auto err = fail("FROM busybox\nADD " + https + " /x\n");
  EXPECT_NE(err.find("Dockerfile:2"), std::string::npos) << err;
  EXPECT_NE(err.find(https), std::string::npos) << err;
}

TEST_F(AddUrlFailureTest, ChecksumNeedsOneUrlSource) {
  write_file(dir("ctx") / "local.txt", "local\n");
  auto err = fail("FROM busybox\nADD --checksum=" + hello_sha_ + " local.txt /l\n");
  EXPECT_NE(err.find("HTTP(S)"), std::string::npos) << err;
  err = fail("FROM busybox\nADD --checksum=" + hello_sha_ + " " + url("hello.txt") + " " +
             url("sub/data.bin") + " /d/\n");
  EXPECT_NE(err.find("multiple sources"), std::string::npos) << err;
  err = fail("FROM busybox\nADD --checksum=md5:abc " + url("hello.txt") + " /h\n");
  EXPECT_NE(err.find("--checksum"), std::string::npos) << err;
}

}  // namespace
}  // namespace mkimg::testing
