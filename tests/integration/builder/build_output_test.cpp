// `build --output type=local|tar` (and buildx's short forms `-o DIR`, `-o -`): the final (or
// --target) stage's root file system as files or as one tar, the layers' whiteouts applied, no
// image kept in the store; bad values refused before anything runs, naming the value.
#include <sys/stat.h>

#include "tests/support/builder_fixture.h"
#include "tests/support/registry_fixture.h"

namespace mkimg::testing {
namespace {

/// One stage over busybox: files of every kind, a file and a base directory removed by a later
/// step (whiteouts), owners other than root, a hardlink.
const char* const kOneStage =
    "FROM busybox\n"
    "RUN mkdir -p /app/sub && echo hello > /app/hello && chmod 0640 /app/hello"
    " && echo secret > /app/sub/key && chmod 0600 /app/sub/key && ln -s hello /app/link"
    " && ln /app/hello /app/hard && echo doomed > /app/doomed && chown 1000:1000 /app/sub/key"
    " && chmod 4755 /app/sub\n"
    "RUN rm /app/doomed /etc/group && rm -rf /home\n";

/// Two stages: the final one FROM scratch with one file of the first.
const char* const kTwoStages =
    "FROM busybox AS first\n"
    "RUN echo one > /one\n"
    "FROM scratch\n"
    "COPY --from=first /one /final/one\n";

class OutputTest : public BuilderTest {
 protected:
  void SetUp() override {
    BuilderTest::SetUp();
    if (IsSkipped()) return;
    write_file(dir("one") / "Dockerfile", kOneStage);
    write_file(dir("two") / "Dockerfile", kTwoStages);
  }

  static struct stat lstat_of(const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
    return st;
  }

  /// `tar -tvf FILE` (GNU tar's verbose listing: mode owner size date time name [-> target]),
  /// numeric owners, times in UTC, runs of spaces made one.
  static std::string list_tar(const fs::path& file) {
    auto r = run({"tar", "--numeric-owner", "-tvf", file.string()}, {{"TZ", "UTC"}});
    EXPECT_EQ(r.exit_code, 0) << r.all();
    std::string out;
    for (char c : r.out) {
      if (c != ' ' || out.empty() || out.back() != ' ') out += c;
    }
    return out;
  }

  /// The names of `tar -tf FILE`, in order.
  static std::vector<std::string> tar_names(const fs::path& file) {
    auto r = run({"tar", "-tf", file.string()});
    EXPECT_EQ(r.exit_code, 0) << r.all();
    std::vector<std::string> names;
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line);) names.push_back(line);
    return names;
  }

  /// The line of `listing` for the entry `name`, "" if none.
  static std::string tar_line(const std::string& listing, const std::string& name) {
    std::istringstream in(listing);
    for (std::string line; std::getline(in, line);) {
      for (const std::string& end : {" " + name, " " + name + "/"}) {
        if (line.size() >= end.size() &&
            line.compare(line.size() - end.size(), end.size(), end) == 0) {
          return line;
        }
      }
      for (const std::string& mid : {" " + name + " -> ", " " + name + " link to "}) {
        if (line.find(mid) != std::string::npos) return line;
      }
    }
    return "";
  }

  bool store_lists(const std::string& what) {
    auto r = run_mkimg(store(), {"images"});
    EXPECT_EQ(r.exit_code, 0) << r.all();
    return r.out.find(what) != std::string::npos;
  }
};

TEST_F(OutputTest, LocalWritesTheFilesOfTheRootFileSystem) {
  fs::path out = dir("artefacts") / "nested" / "out";  // made, parents too
  auto r = build(dir("one"), {"-t", "local:1", "--output", "type=local,dest=" + out.string()});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(read_file(out / "app/hello"), "hello\n");
  EXPECT_EQ(read_file(out / "app/sub/key"), "secret\n");
  EXPECT_EQ(lstat_of(out / "app/hello").st_mode & 07777, 0640u);
  EXPECT_EQ(lstat_of(out / "app/sub/key").st_mode & 07777, 0600u);
  EXPECT_EQ(lstat_of(out / "app/sub").st_mode & 07777, 04755u);
  EXPECT_EQ(lstat_of(out / "bin/busybox").st_mode & 07777, 0755u);
  ASSERT_TRUE(fs::is_symlink(out / "app/link"));
  EXPECT_EQ(fs::read_symlink(out / "app/link"), "hello");
  EXPECT_TRUE(fs::is_symlink(out / "bin/sh"));
  EXPECT_EQ(lstat_of(out / "app/hard").st_ino, lstat_of(out / "app/hello").st_ino);
  // What later steps removed is not there: a file of the same stage and base paths.
  EXPECT_FALSE(fs::exists(fs::symlink_status(out / "app/doomed")));
  EXPECT_FALSE(fs::exists(fs::symlink_status(out / "etc/group")));
  EXPECT_FALSE(fs::exists(fs::symlink_status(out / "home")));
  EXPECT_TRUE(fs::exists(out / "etc/passwd"));
  // As BuildKit's client: every file is the caller's (root here), the new directory is 0700,
  // and nothing but the tree is left in it.
  EXPECT_EQ(lstat_of(out / "app/sub/key").st_uid, 0u);
  EXPECT_EQ(lstat_of(out / "app/sub/key").st_gid, 0u);
  EXPECT_EQ(lstat_of(out).st_mode & 07777, 0700u);
  for (const auto& e : fs::directory_iterator(out)) {
    EXPECT_EQ(e.path().filename().string().rfind(".mkimg", 0), std::string::npos) << e.path();
  }
  // No image is kept: -t names nothing, and the build says so. The id is still printed.
  EXPECT_FALSE(store_lists("local")) << run_mkimg(store(), {"images"}).out;
  EXPECT_NE(r.err.find("warning: no image is kept"), std::string::npos) << r.err;
  EXPECT_EQ(image_id(r).rfind("sha256:", 0), 0u) << r.out;
}

TEST_F(OutputTest, LocalOfAMultiStageBuildIsTheFinalStageOrTheTarget) {
  auto last = build(dir("two"), {"-o", "type=local,dest=" + dir("last").string()});
  ASSERT_EQ(last.exit_code, 0) << last.all();
  EXPECT_EQ(read_file(dir("last") / "final/one"), "one\n");
  std::vector<std::string> top;
  for (const auto& e : fs::directory_iterator(dir("last"))) top.push_back(e.path().filename());
  EXPECT_EQ(top, std::vector<std::string>{"final"});

  auto first =
      build(dir("two"), {"--target", "first", "-o", "type=local,dest=" + dir("first").string(),
                         "--metadata-file", dir("meta.json").string()});
  ASSERT_EQ(first.exit_code, 0) << first.all();
  EXPECT_EQ(read_file(dir("meta.json")), "{}\n") << "no image is made, so none is named";
  EXPECT_EQ(read_file(dir("first") / "one"), "one\n");
  EXPECT_TRUE(fs::exists(dir("first") / "bin/busybox"));
  EXPECT_FALSE(fs::exists(dir("first") / "final"));
}

TEST_F(OutputTest, LocalMergesIntoAnExistingDirectoryAndNeverWritesOutsideIt) {
  fs::path out = dir("merge");
  write_file(out / "mine.txt", "kept\n");
  write_file(out / "app/mine.txt", "kept too\n");
  write_file(out / "app/hello", "replaced\n");
  write_file(out / "etc/group", "not the image's, kept\n");  // the image removed its own
  write_file(out / "bin", "a file where the image has a directory\n");
  fs::create_directories(dir("outside"));
  fs::create_symlink(dir("outside"), out / "home");  // the image has no /home: kept as is
  fs::create_symlink(dir("outside"), out / "root");  // the image's /root replaces the link
  fs::create_symlink(dir("outside") / "x", out / "usr");
  ::chmod(out.c_str(), 0755);
  auto r = build(dir("one"), {"-o", "type=local,dest=" + out.string()});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(read_file(out / "mine.txt"), "kept\n");
  EXPECT_EQ(read_file(out / "app/mine.txt"), "kept too\n");
  EXPECT_EQ(read_file(out / "app/hello"), "hello\n");
  EXPECT_EQ(lstat_of(out / "app").st_mode & 07777, 0755u);  // the image's mode
  EXPECT_EQ(read_file(out / "etc/group"), "not the image's, kept\n");
  EXPECT_TRUE(fs::is_directory(fs::symlink_status(out / "bin")));
  EXPECT_TRUE(fs::exists(out / "bin/busybox"));
  EXPECT_TRUE(fs::is_symlink(out / "home"));
  EXPECT_TRUE(fs::is_directory(fs::symlink_status(out / "root")));
  EXPECT_TRUE(fs::is_directory(fs::symlink_status(out / "usr")));
  EXPECT_TRUE(fs::is_empty(dir("outside"))) << "written through a symlink";
  EXPECT_EQ(lstat_of(out).st_mode & 07777, 0755u);  // an existing directory keeps its mode
}

TEST_F(OutputTest, TarToAFileAndToStdoutIsTheSameSortedTree) {
  fs::path file = dir("rootfs.tar");
  std::map<std::string, std::string> env{{"SOURCE_DATE_EPOCH", "1500000000"}};
  auto to_file = run_mkimg(store(),
                           {"build", "--progress", "plain", "--output",
                            "type=tar,dest=" + file.string(), dir("one").string()},
                           env);
  ASSERT_EQ(to_file.exit_code, 0) << to_file.all();
  std::string listing = list_tar(file);
  // The image's owners, modes, links; removed paths absent.
  EXPECT_EQ(tar_line(listing, "app/sub/key").rfind("-rw------- 1000/1000 7 ", 0), 0u) << listing;
  EXPECT_EQ(tar_line(listing, "app/sub").rfind("drwsr-xr-x 0/0 ", 0), 0u) << listing;
  EXPECT_NE(tar_line(listing, "app/link").find("app/link -> hello"), std::string::npos) << listing;
  // A hardlink: the first name in order is the file, the other links to it.
  EXPECT_EQ(tar_line(listing, "app/hard").rfind("-rw-r----- 0/0 6 ", 0), 0u) << listing;
  EXPECT_NE(tar_line(listing, "app/hello").find("link to app/hard"), std::string::npos) << listing;
  EXPECT_EQ(tar_line(listing, "app/doomed"), "") << listing;
  EXPECT_EQ(tar_line(listing, "etc/group"), "") << listing;
  EXPECT_EQ(tar_line(listing, "home"), "") << listing;
  EXPECT_NE(tar_line(listing, "bin/busybox"), "") << listing;
  // Times are clamped to SOURCE_DATE_EPOCH as in the layers (2017-07-14 02:40 UTC).
  EXPECT_NE(tar_line(listing, "app/hard").find(" 2017-07-14 02:40 "), std::string::npos) << listing;
  // Sorted as a layer: component by component, a directory followed by its contents.
  std::vector<std::string> names = tar_names(file);
  auto components = [](std::string s) {
    if (!s.empty() && s.back() == '/') s.pop_back();
    std::vector<std::string> parts;
    std::istringstream in(s);
    for (std::string p; std::getline(in, p, '/');) parts.push_back(p);
    return parts;
  };
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end(), [&](const auto& a, const auto& b) {
    return components(a) < components(b);
  }));

  // `-o -` streams the same bytes to stdout, and the image id is not printed there.
  auto to_stdout =
      run_mkimg(store(), {"build", "--progress", "plain", "-o", "-", dir("one").string()}, env);
  ASSERT_EQ(to_stdout.exit_code, 0) << to_stdout.err;
  EXPECT_TRUE(to_stdout.out == read_file(file)) << "stdout differs from the file";
  EXPECT_EQ(to_stdout.out.find("sha256:"), std::string::npos);
  EXPECT_NE(to_stdout.err.find("writing tar to stdout done"), std::string::npos) << to_stdout.err;
  // type=tar without dest= is stdout too (buildx).
  auto no_dest = run_mkimg(
      store(), {"build", "--progress", "quiet", "-o", "type=tar", dir("one").string()}, env);
  ASSERT_EQ(no_dest.exit_code, 0) << no_dest.err;
  EXPECT_TRUE(no_dest.out == read_file(file));
  EXPECT_FALSE(store_lists("<none>"));
}

TEST_F(OutputTest, ShortFormsAreADirectoryAndStdout) {
  fs::path out = dir("short");
  auto local = build(dir("two"), {"-o", out.string()});
  ASSERT_EQ(local.exit_code, 0) << local.all();
  EXPECT_EQ(read_file(out / "final/one"), "one\n");

  auto tar = build(dir("two"), {"-o", "-"});
  ASSERT_EQ(tar.exit_code, 0) << tar.err;
  fs::path file = dir("short.tar");
  write_file(file, tar.out);
  EXPECT_EQ(tar_names(file), (std::vector<std::string>{"final/", "final/one"}));
}

// buildx's --push adds an image output beside the local one: the -t name is pushed, and still
// nothing is kept in the store.
TEST_F(OutputTest, PushBesideALocalOutputPushesTheTags) {
  Registry registry(RegistryMode::kHttp);
  std::string name = registry.host() + "/out:1";
  auto r = build(dir("two"), {"-t", name, "--push", "-o", dir("pushed").string()});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(read_file(dir("pushed") / "final/one"), "one\n");
  auto head = run({"curl", "-fsSI", "-H", "Accept: application/vnd.oci.image.manifest.v1+json",
                   registry.url() + "/v2/out/manifests/1"});
  EXPECT_EQ(head.exit_code, 0) << head.all() << r.all();
  EXPECT_FALSE(store_lists("/out")) << run_mkimg(store(), {"images"}).out;
  EXPECT_EQ(r.err.find("warning: no image is kept"), std::string::npos) << r.err;
}

TEST_F(OutputTest, BadValuesAreRefusedNamingThemBeforeTheBuild) {
  write_file(dir("a-file"), "x");
  fs::create_directories(dir("a-dir"));
  struct Case {
    std::vector<std::string> flags;
    std::string named;
  };
  std::vector<Case> cases = {
      {{"-o", "type=zip,dest=x"}, "type=zip,dest=x"},
      {{"-o", "type=local"}, "type=local"},
      {{"-o", "type=local,dest"}, "type=local,dest"},
      {{"-o", "type=local,dest=" + dir("a-file").string()}, dir("a-file").string()},
      {{"-o", "type=tar,dest=" + dir("a-dir").string()}, dir("a-dir").string()},
      {{"-o", ""}, "--output"},
      {{"-o", "-", "-o", "type=tar,dest=-"}, "type=tar,dest=-"},
      {{"-o", dir("a-file").string()}, dir("a-file").string()},
  };
  for (const auto& c : cases) {
    std::vector<std::string> args = c.flags;
    auto r = build(dir("one"), args);
    EXPECT_NE(r.exit_code, 0) << c.named;
    EXPECT_NE(r.err.find("mkimg: error:"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(c.named), std::string::npos) << c.named << "\n" << r.err;
    EXPECT_EQ(r.err.find("RUN mkdir"), std::string::npos) << "the build ran\n" << r.err;
  }
  EXPECT_EQ(read_file(dir("a-file")), "x");
  EXPECT_TRUE(fs::is_empty(dir("a-dir")));
}

}  // namespace
}  // namespace mkimg::testing
