// Reproducible builds you can prove: every example gives the same manifest digest from two
// empty stores, two copies of the context, two umasks and two wall clocks; --verify-reproducible
// passes on them and names the file and layer of a build that is not reproducible; `mkimg diff`
// on built images (exit codes 0, 1, 2; the store, oci-archive and oci: layouts).
#include <nlohmann/json.hpp>

#include "tests/support/builder_fixture.h"

namespace mkimg::testing {
namespace {

/// The manifest digest of `image` in the store at `root`.
std::string manifest_digest(const fs::path& root, const std::string& image) {
  auto r = run_mkimg(root, {"inspect", image});
  if (r.exit_code != 0) return "inspect failed: " + r.all();
  return nlohmann::json::parse(r.out).at(0).at("Digest").get<std::string>();
}

/// argv run under `sh -c 'umask U; exec ...'`, through faketime at `clock` when it is there
/// (scripts/install-deps.sh installs it).
CommandResult run_with(const std::string& umask, const std::string& clock,
                       const std::vector<std::string>& argv) {
  std::vector<std::string> args{"sh", "-c", "umask " + umask + "; exec \"$@\"", "sh"};
  if (!clock.empty() && have_tool("faketime")) {
    // Only the clock: libfaketime also shifts the times stat() returns unless NO_FAKE_STAT is
    // set, which would fake the files' own mtimes (an input) rather than the wall clock.
    args.insert(args.end(), {"env", "NO_FAKE_STAT=1", "faketime", clock});
  }
  args.insert(args.end(), argv.begin(), argv.end());
  return run(args);
}

/// Copies a directory (modes kept: they are part of the input; times not: they are not).
void copy_tree(const fs::path& from, const fs::path& to) {
  auto r = run({"cp", "-r", "--preserve=mode", from.string() + "/.", to.string()});
  ASSERT_EQ(r.exit_code, 0) << r.all();
}

struct Example {
  std::string name;
  std::vector<std::string> build_args;
};

class ReproducibleExamples : public BuilderTest, public ::testing::WithParamInterface<Example> {
 protected:
  /// A second store holding the very same busybox base (its created time is part of the
  /// input), through save and load.
  fs::path second_store() {
    fs::path base = dir("busybox.tar"), other = dir("store2");
    auto saved =
        run_mkimg(store(), {"save", "--format", "oci", "busybox:latest", "-o", base.string()});
    EXPECT_EQ(saved.exit_code, 0) << saved.all();
    auto loaded = run_mkimg(other, {"load", "-i", base.string()});
    EXPECT_EQ(loaded.exit_code, 0) << loaded.all();
    return other;
  }
};

TEST_P(ReproducibleExamples, SameDigestAcrossStoresContextsUmasksAndClocks) {
  const Example& ex = GetParam();
  fs::path other = second_store();
  fs::create_directories(dir("ctx-one"));
  fs::create_directories(dir("elsewhere/ctx-two"));
  copy_tree(source_dir() / "examples" / ex.name, dir("ctx-one"));
  copy_tree(source_dir() / "examples" / ex.name, dir("elsewhere/ctx-two"));

  auto build_in = [&](const fs::path& root, const fs::path& context, const std::string& umask,
                      const std::string& clock) {
    std::vector<std::string> argv{mkimg_binary(),   "--root",     root.string(),
                                  "build",          "--progress", "plain",
                                  "--reproducible", "-t",         ex.name + ":repro"};
    argv.insert(argv.end(), ex.build_args.begin(), ex.build_args.end());
    argv.push_back(context.string());
    return run_with(umask, clock, argv);
  };
  auto first = build_in(store(), dir("ctx-one"), "022", "2021-03-04 05:06:07");
  ASSERT_EQ(first.exit_code, 0) << first.all();
  if (!have_tool("faketime")) ::sleep(2);  // at least a different wall clock
  auto second = build_in(other, dir("elsewhere/ctx-two"), "077", "2031-10-11 12:13:14");
  ASSERT_EQ(second.exit_code, 0) << second.all();

  std::string a = manifest_digest(store(), ex.name + ":repro");
  std::string b = manifest_digest(other, ex.name + ":repro");
  if (a != b) {
    auto d = run_mkimg(store(), {"diff", ex.name + ":repro",
                                 "oci:" + (other / "oci").string() + ":" + ex.name + ":repro"});
    FAIL() << a << " != " << b << "\n" << d.all();
  }
  EXPECT_EQ(first.out, second.out);  // the image id
}

// A cached layer written with real times is no hit for a --reproducible build: a plain build
// first, then a reproducible one, gives the image of a reproducible build in an empty store.
TEST_P(ReproducibleExamples, PlainBuildFirstChangesNothing) {
  const Example& ex = GetParam();
  fs::path other = second_store();
  fs::path context = source_dir() / "examples" / ex.name;
  std::vector<std::string> plain{"build", "-t", ex.name + ":plain"};
  plain.insert(plain.end(), ex.build_args.begin(), ex.build_args.end());
  plain.push_back(context.string());
  std::vector<std::string> repro{"build", "--reproducible", "-t", ex.name + ":repro"};
  repro.insert(repro.end(), ex.build_args.begin(), ex.build_args.end());
  repro.push_back(context.string());
  for (const auto& argv : {plain, repro}) {
    auto r = run_mkimg(store(), argv);
    ASSERT_EQ(r.exit_code, 0) << r.all();
  }
  auto fresh = run_mkimg(other, repro);
  ASSERT_EQ(fresh.exit_code, 0) << fresh.all();
  EXPECT_EQ(manifest_digest(store(), ex.name + ":repro"),
            manifest_digest(other, ex.name + ":repro"));
}

TEST_P(ReproducibleExamples, VerifyReproduciblePasses) {
  const Example& ex = GetParam();
  std::vector<std::string> args{"--verify-reproducible", "-t", ex.name + ":verified"};
  args.insert(args.end(), ex.build_args.begin(), ex.build_args.end());
  auto r = build(source_dir() / "examples" / ex.name, args);
  ASSERT_EQ(r.exit_code, 0) << r.all();
  std::string digest = manifest_digest(store(), ex.name + ":verified");
  EXPECT_NE(r.err.find("reproducible: " + digest), std::string::npos) << r.all();
  EXPECT_EQ(count(r.err, "not reproducible"), 0) << r.err;
}

INSTANTIATE_TEST_SUITE_P(Examples, ReproducibleExamples,
                         ::testing::Values(Example{"hello", {}}, Example{"multi-stage", {}},
                                           Example{"build-args",
                                                   {"--build-arg", "AUDIENCE=tests"}}),
                         [](const auto& param_info) {
                           std::string n = param_info.param.name;
                           for (char& c : n) {
                             if (c == '-') c = '_';
                           }
                           return n;
                         });

// A RUN that leaves /etc alone gives the same layer under any clock, even when libfaketime
// also fakes the times stat() returns: the stubs runc makes for the generated /etc files are
// removed and their directory's time put back from the kernel's own statx.
TEST_F(BuilderTest, RunLayerDoesNotDependOnTheClock) {
  if (!have_tool("faketime")) GTEST_SKIP() << "faketime missing (scripts/install-deps.sh)";
  write_file(dir("clock/Dockerfile"),
             "FROM busybox\nRUN mkdir -p /real && ln -s /real /via-link\n");
  std::vector<std::string> argv{mkimg_binary(),   "--root",     store().string(),     "build",
                                "--reproducible", "--no-cache", dir("clock").string()};
  std::vector<std::string> ids;
  for (const char* clock : {"", "2001-02-03 04:05:06", "2041-02-03 04:05:06"}) {
    std::vector<std::string> args = argv;
    if (*clock) args.insert(args.begin(), {"faketime", clock});
    auto r = run(args);
    ASSERT_EQ(r.exit_code, 0) << r.all();
    ids.push_back(r.out);
  }
  EXPECT_EQ(ids[1], ids[0]);
  EXPECT_EQ(ids[2], ids[0]);
}

class NotReproducible : public BuilderTest {
 protected:
  fs::path stamp_context() {
    // busybox's date has no %N (whole seconds only), so a random uuid makes sure two runs in
    // the same second still differ.
    write_file(dir("stamp/Dockerfile"),
               "FROM busybox\nRUN (date +%s%N; cat /proc/sys/kernel/random/uuid) > /stamp\n");
    return dir("stamp");
  }
};

TEST_F(NotReproducible, VerifyReproducibleFailsNamingTheFileAndTheLayer) {
  auto r = build(stamp_context(), {"--verify-reproducible", "-t", "stamp:v"});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_NE(r.err.find("not reproducible"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("layer 2:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("changed /stamp: content"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("layer 1:"), std::string::npos) << r.err;  // busybox is the same
  // The first build is tagged; its cache entries were not replaced by the second build's.
  std::string first = image_id(r);
  auto again = build(stamp_context(), {"--reproducible", "-t", "stamp:v"});
  ASSERT_EQ(again.exit_code, 0) << again.all();
  EXPECT_EQ(image_id(again), first);
  EXPECT_EQ(count(again.err, "DONE"), 0) << again.err;
  auto inspected = run_mkimg(store(), {"inspect", "stamp:v"});
  EXPECT_NE(inspected.out.find(first), std::string::npos) << inspected.all();
}

TEST_F(NotReproducible, DiffOfTwoBuildsExitCodesAndTransports) {
  ASSERT_EQ(build(stamp_context(), {"--reproducible", "-t", "stamp:one"}).exit_code, 0);
  ASSERT_EQ(build(stamp_context(), {"--reproducible", "--no-cache", "-t", "stamp:two"}).exit_code,
            0);
  auto d = run_mkimg(store(), {"diff", "stamp:one", "stamp:two"});
  EXPECT_EQ(d.exit_code, 1) << d.all();
  EXPECT_NE(d.out.find("rootfs.diff_ids[1]"), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("changed /stamp: content"), std::string::npos) << d.out;

  auto j = run_mkimg(store(), {"diff", "--json", "stamp:one", "stamp:two"});
  EXPECT_EQ(j.exit_code, 1) << j.all();
  auto doc = nlohmann::json::parse(j.out);
  EXPECT_FALSE(doc.at("identical").get<bool>());
  ASSERT_EQ(doc.at("layers").size(), 1u);
  EXPECT_EQ(doc["layers"][0]["index"], 1);
  EXPECT_EQ(doc["layers"][0]["files"][0]["path"], "/stamp");

  auto same = run_mkimg(store(), {"diff", "stamp:one", "stamp:one"});
  EXPECT_EQ(same.exit_code, 0) << same.all();
  EXPECT_EQ(same.out, "");

  // The same image read in place from an oci-archive and from an OCI layout directory.
  fs::path archive = dir("one.tar");
  ASSERT_EQ(run_mkimg(store(), {"save", "--format", "oci", "stamp:one", "-o", archive.string()})
                .exit_code,
            0);
  auto in_archive = run_mkimg(store(), {"diff", "stamp:one", "oci-archive:" + archive.string()});
  EXPECT_EQ(in_archive.exit_code, 0) << in_archive.all();
  auto in_layout =
      run_mkimg(store(), {"diff", "oci:" + (store() / "oci").string() + ":stamp:two", "stamp:two"});
  EXPECT_EQ(in_layout.exit_code, 0) << in_layout.all();

  // A docker-archive holds the same tars uncompressed: a different manifest, no file differs.
  fs::path docker = dir("one-docker.tar");
  ASSERT_EQ(run_mkimg(store(), {"save", "stamp:one", "-o", docker.string()}).exit_code, 0);
  auto in_docker = run_mkimg(store(), {"diff", "stamp:one", "docker-archive:" + docker.string()});
  EXPECT_EQ(in_docker.exit_code, 1) << in_docker.all();
  EXPECT_NE(in_docker.out.find("layers[1] (same tar, compressed differently)"), std::string::npos)
      << in_docker.out;
  EXPECT_EQ(in_docker.out.find("changed /"), std::string::npos) << in_docker.out;

  auto usage = run_mkimg(store(), {"diff", "stamp:one"});
  EXPECT_EQ(usage.exit_code, 2) << usage.all();
  auto missing = run_mkimg(store(), {"diff", "stamp:one", "no-such-image:x"});
  EXPECT_EQ(missing.exit_code, 2) << missing.all();
  EXPECT_NE(missing.err.find("no-such-image"), std::string::npos) << missing.err;
  auto bad_archive = run_mkimg(store(), {"diff", "stamp:one", "oci-archive:/nonexistent.tar"});
  EXPECT_EQ(bad_archive.exit_code, 2) << bad_archive.all();
}

}  // namespace
}  // namespace mkimg::testing
