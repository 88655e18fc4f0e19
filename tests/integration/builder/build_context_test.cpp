// --build-context NAME=VALUE (buildx's named contexts) with the real binary and runc. Docker
// 20.10's `docker build` has no such flag, so these follow buildx's documented behaviour: a
// directory is read by COPY --from and RUN --mount from= like the main context (its content in
// the keys, its own .dockerignore); docker-image://REF and oci-layout://DIR[:TAG|@DIGEST] are
// images for FROM, COPY --from and RUN --mount from=; a directory as a base is the root file
// system; a context replaces a stage of the same name, which is then not built.
#include <nlohmann/json.hpp>

#include "tests/support/builder_fixture.h"

namespace mkimg::testing {
namespace {

class BuildContextTest : public BuilderTest {
 protected:
  CommandResult build_with(const std::vector<std::string>& contexts,
                           std::vector<std::string> more = {}) {
    std::vector<std::string> args;
    for (const auto& c : contexts) {
      args.push_back("--build-context");
      args.push_back(c);
    }
    args.insert(args.end(), more.begin(), more.end());
    return build(dir("ctx"), args);
  }
};

TEST_F(BuildContextTest, ADirectoryIsReadByCopyAndMountsAndKeyedByItsContent) {
  write_file(dir("libs") / "sub" / "a.txt", "lib1\n");
  write_file(dir("libs") / "sub" / "ignored.txt", "secret\n");
  write_file(dir("libs") / ".dockerignore", "sub/ignored.txt\n");
  write_file(dir("ctx") / "Dockerfile",
             "FROM busybox\n"
             "COPY --from=libs sub /libs/\n"
             "RUN --mount=from=libs,source=sub,target=/m cat /m/a.txt > /mounted\n");
  const std::string libs = "libs=" + dir("libs").string();
  auto first = build_with({libs}, {"-t", "named:1"});
  ASSERT_EQ(first.exit_code, 0) << first.all();
  auto ran = run_image("named:1", {"sh", "-c", "cat /libs/a.txt /mounted; ls /libs"});
  EXPECT_EQ(ran.out, "lib1\nlib1\na.txt\n") << ran.all();

  auto again = build_with({libs}, {"-t", "named:1"});
  ASSERT_EQ(again.exit_code, 0) << again.all();
  EXPECT_EQ(count(again.err, "CACHED"), 2) << again.err;

  write_file(dir("libs") / "sub" / "a.txt", "lib2\n");
  auto changed = build_with({libs}, {"-t", "named:1"});
  ASSERT_EQ(changed.exit_code, 0) << changed.all();
  EXPECT_EQ(count(changed.err, "CACHED"), 0) << changed.err;
  ran = run_image("named:1", {"cat", "/libs/a.txt", "/mounted"});
  EXPECT_EQ(ran.out, "lib2\nlib2\n") << ran.all();

  // Without the context, `libs` is an image name that does not exist.
  auto without = build_with({});
  EXPECT_NE(without.exit_code, 0);
  EXPECT_NE(without.err.find("libs"), std::string::npos) << without.err;
}

TEST_F(BuildContextTest, ImagesReplaceABaseAndAStageOfTheSameName) {
  ASSERT_EQ(run_mkimg(store(), {"tag", "busybox", "pinned:1"}).exit_code, 0);
  write_file(dir("ctx") / "Dockerfile",
             "FROM busybox AS tools\n"
             "RUN echo from-the-stage > /made\n"
             "FROM base\n"
             "COPY --from=tools /bin/busybox /copied\n"
             "RUN ls /made 2>/dev/null || echo no-made\n");
  auto r = build_with({"base=docker-image://pinned:1", "tools=docker-image://busybox"},
                      {"-t", "named:2"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(count(r.err, "echo from-the-stage"), 0) << "the replaced stage is not built\n" << r.err;
  EXPECT_NE(r.err.find("| no-made"), std::string::npos) << r.err;
  EXPECT_EQ(run_image("named:2", {"test", "-x", "/copied"}).exit_code, 0);

  // oci-layout://DIR:TAG and oci-layout://DIR@DIGEST.
  const fs::path layout = dir("layout");
  auto copied =
      run({"skopeo", "copy", "-q", "oci:" + (store() / "oci").string() + ":busybox:latest",
           "oci:" + layout.string() + ":v1"});
  ASSERT_EQ(copied.exit_code, 0) << copied.all();
  auto index = nlohmann::json::parse(read_file(layout / "index.json"));
  const std::string digest = index.at("manifests").at(0).at("digest");
  for (const std::string& value : {"oci-layout://" + layout.string() + ":v1",
                                   "oci-layout://" + layout.string() + "@" + digest}) {
    auto o = build_with({"base=" + value, "tools=docker-image://busybox"});
    EXPECT_EQ(o.exit_code, 0) << value << "\n" << o.all();
  }
  auto missing_tag = build_with({"base=oci-layout://" + layout.string() + ":v9"});
  EXPECT_NE(missing_tag.exit_code, 0);
  EXPECT_NE(missing_tag.err.find("v9"), std::string::npos) << missing_tag.err;
}

TEST_F(BuildContextTest, BadValuesAreClearErrors) {
  write_file(dir("ctx") / "Dockerfile", "FROM busybox\nRUN true\n");
  struct Case {
    std::string value, says;
  };
  for (const auto& c : std::vector<Case>{
           {"novalue", "expected NAME=VALUE"},
           {"=x", "expected NAME=VALUE"},
           {"Bad=/tmp", "invalid context name"},
           {"x=" + dir("nowhere").string(), "is not a directory"},
           {"x=docker-image://UPPER", "is not an image reference"},
           {"x=oci-layout://" + dir("ctx").string(), "is not an OCI image layout"},
           {"x=https://example.com/file.tar", "not URL"},
           {"x=target:base", "not URL or bake target"},
       }) {
    auto r = build_with({c.value});
    EXPECT_EQ(r.exit_code, 1) << c.value << "\n" << r.all();
    EXPECT_NE(r.err.find(c.says), std::string::npos) << c.value << "\n" << r.err;
  }
  auto twice = build_with({"a=" + dir("ctx").string(), "a=" + dir("ctx").string()});
  EXPECT_NE(twice.err.find("a second context of that name"), std::string::npos) << twice.err;
}

// BuildKit: a directory context as a base is the stage's root file system.
TEST_F(BuildContextTest, ADirectoryAsABaseIsTheRootFileSystem) {
  ASSERT_EQ(run({"cp", "-a", dir("busybox").string(), dir("root").string()}).exit_code, 0);
  write_file(dir("root") / "data" / "x.txt", "from-the-directory\n");
  write_file(dir("ctx") / "Dockerfile", "FROM src\nRUN cat /data/x.txt > /copy\n");
  auto r = build_with({"src=" + dir("root").string()}, {"-t", "named:dir"});
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(run_image("named:dir", {"cat", "/copy"}).out, "from-the-directory\n");
  auto again = build_with({"src=" + dir("root").string()}, {"-t", "named:dir"});
  EXPECT_EQ(count(again.err, "CACHED"), 2) << again.err;
  auto plan = build_with({"src=" + dir("root").string()}, {"--dry-run"});
  EXPECT_EQ(plan.exit_code, 0) << plan.all();
  EXPECT_NE(plan.out.find("COPY --from=src . /"), std::string::npos) << plan.all();
}

}  // namespace
}  // namespace mkimg::testing
