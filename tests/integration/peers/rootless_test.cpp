// Builds without root (runtime/rootless.h): every peer case and every example built by an
// ordinary user (a system user with a subordinate range, run through runuser) gives the same
// manifest digest as the same --reproducible build as root, which proves owners, modes,
// whiteouts and opaque directories right (tests/peers/owners_whiteouts is the case made for
// it). Then `mkimg run` and prune as that user, the default store, and each set-up error for
// real: no range, a range too small for the image's ids, newuidmap missing, user namespaces
// disabled.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/integration/peers/case_server.h"
#include "tests/integration/peers/peer_case.h"
#include "tests/support/harness.h"
#include "tests/support/registry_fixture.h"
#include "tests/support/rootless.h"

namespace mkimg::testing::peers {

void PrintTo(const PeerCase& c, std::ostream* os);

namespace {

constexpr const char* kUser = "mkimg-rootless";
constexpr const char* kRange = "400000 65536";

/// Every peer case, then every example (its folder is its context).
std::vector<PeerCase> rootless_cases() {
  std::vector<PeerCase> cases = load_peer_cases(source_dir() / "tests/peers");
  for (PeerCase c : load_peer_cases(source_dir() / "examples")) {
    c.name = "example_" + c.name;
    for (char& ch : c.name) {
      if (ch == '-') ch = '_';
    }
    cases.push_back(std::move(c));
  }
  return cases;
}

std::string digest_of(const CommandResult& inspect) {
  if (inspect.exit_code != 0) return "inspect failed: " + inspect.all();
  return nlohmann::json::parse(inspect.out).at(0).at("Digest").get<std::string>();
}

class RootlessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "the rootless tests make a user: they start as root";
    ASSERT_TRUE(have_tool("newuidmap"))
        << "newuidmap missing: scripts/install-deps.sh installs uidmap";
    user_ = std::make_unique<RootlessUser>(kUser, kRange, work_.path());
    ASSERT_EQ(user_->error(), "");
    auto made = run(
        {(source_dir() / "scripts/make-busybox-root.sh").string(), (work_ / "busybox").string()});
    ASSERT_EQ(made.exit_code, 0) << made.all();
    auto imported =
        run_mkimg(root_store(), {"import", (work_ / "busybox").string(), "busybox:latest"});
    ASSERT_EQ(imported.exit_code, 0) << imported.all();
    // The user's store gets the very same base, through save and load.
    fs::path base = user_->home() / "busybox.tar";
    auto saved =
        run_mkimg(root_store(), {"save", "--format", "oci", "-o", base.string(), "busybox:latest"});
    ASSERT_EQ(saved.exit_code, 0) << saved.all();
    user_->give(base);
    auto loaded = user_->mkimg(user_store(), {"load", "-i", base.string()});
    ASSERT_EQ(loaded.exit_code, 0) << loaded.all();
  }

  fs::path root_store() const { return work_ / "root-store"; }
  fs::path user_store() const { return user_->home() / "store"; }

  /// The manifest digests of `tag` in both stores, or the `mkimg diff` of the two images.
  std::string compare(const std::string& tag) const {
    std::string a = digest_of(run_mkimg(root_store(), {"inspect", tag}));
    std::string b = digest_of(user_->mkimg(user_store(), {"inspect", tag}));
    if (a == b) return "";
    auto d = run_mkimg(root_store(),
                       {"diff", tag, "oci:" + (user_store() / "oci").string() + ":" + tag});
    return tag + ": root " + a + ", rootless " + b + "\n" + d.all();
  }

  TempDir work_;
  std::unique_ptr<RootlessUser> user_;
};

class RootlessCases : public RootlessTest, public ::testing::WithParamInterface<PeerCase> {};

TEST_P(RootlessCases, SameImageAsRoot) {
  PeerCase c = GetParam();
  fs::path context = user_->home() / "context";
  ASSERT_EQ(prepare_context(c, context), "");
  if (!fs::exists(c.dir / "context") && !fs::exists(c.dir / "setup.sh")) {
    auto copied = run({"cp", "-a", (c.dir).string() + "/.", context.string()});
    ASSERT_EQ(copied.exit_code, 0) << copied.all();
  }
  // The Dockerfiles where the user can read them (the checkout may be private to root).
  fs::path dockerfiles = user_->home() / "dockerfiles";
  fs::create_directories(dockerfiles);
  for (const auto& b : c.builds) {
    fs::copy_file(c.dir / b.dockerfile, dockerfiles / b.dockerfile,
                  fs::copy_options::overwrite_existing);
  }
  user_->give(user_->home());
  CaseServer server(c, context, work_.path());
  ASSERT_EQ(server.failure(), "");
  for (const auto& b : c.builds) {
    std::vector<std::string> args{
        "build", "--reproducible", "-f", (dockerfiles / b.dockerfile).string(), "-t", b.tag};
    args.insert(args.end(), b.flags.begin(), b.flags.end());
    args.push_back(context.string());
    auto as_root = run_mkimg(root_store(), args);
    ASSERT_EQ(as_root.exit_code, 0) << as_root.all();
    auto rootless = user_->mkimg(user_store(), args);
    ASSERT_EQ(rootless.exit_code, 0) << rootless.all();
  }
  for (const auto& b : c.builds) EXPECT_EQ(compare(b.tag), "");
}

INSTANTIATE_TEST_SUITE_P(Cases, RootlessCases, ::testing::ValuesIn(rootless_cases()),
                         [](const ::testing::TestParamInfo<PeerCase>& param_info) {
                           return param_info.param.name;
                         });

TEST_F(RootlessTest, RunPruneAndTheDefaultStore) {
  fs::path context = user_->home() / "hello";
  auto copied =
      run({"cp", "-a", (source_dir() / "examples/hello").string() + "/.", context.string()});
  ASSERT_EQ(copied.exit_code, 0) << copied.all();
  user_->give(context);
  // No --root and no MKIMG_ROOT: $XDG_DATA_HOME/mkimg.
  fs::path xdg = user_->home() / "xdg";
  std::map<std::string, std::string> env{{"XDG_DATA_HOME", xdg.string()}, {"MKIMG_ROOT", ""}};
  auto loaded = user_->run_as(
      {user_->binary().string(), "load", "-i", (user_->home() / "busybox.tar").string()}, env);
  ASSERT_EQ(loaded.exit_code, 0) << loaded.all();
  auto built =
      user_->run_as({user_->binary().string(), "build", "-t", "hello", context.string()}, env);
  ASSERT_EQ(built.exit_code, 0) << built.all();
  EXPECT_TRUE(fs::exists(xdg / "mkimg/oci/index.json"));
  auto ran = user_->run_as({user_->binary().string(), "run", "--rm", "hello"}, env);
  ASSERT_EQ(ran.exit_code, 0) << ran.all();
  EXPECT_EQ(ran.out, "Hello from an image built by mkimg.\nbuilt by mkimg\n");
  // Layers hold files of subordinate ids the user cannot remove outside the namespace;
  // prune (in it) can.
  auto removed = user_->run_as({user_->binary().string(), "rmi", "hello", "busybox"}, env);
  ASSERT_EQ(removed.exit_code, 0) << removed.all();
  auto pruned = user_->run_as({user_->binary().string(), "prune"}, env);
  ASSERT_EQ(pruned.exit_code, 0) << pruned.all();
  auto left =
      run({"sh", "-c", "find '" + (xdg / "mkimg/layers").string() + "' -mindepth 1 | wc -l"});
  EXPECT_EQ(left.out, "0\n") << left.all();
}

// A COPY rebuilt after a changed and a removed file records only the delta, stacked on its last
// layer with a whiteout, in the user namespace too: the RUN after it sees the new tree, and the
// image is root's.
TEST_F(RootlessTest, ACopyRebuiltAsADeltaSeesTheNewTree) {
  fs::path context = user_->home() / "recall";
  for (int i = 0; i < 50; ++i) {
    write_file(context / "data" / ("f" + std::to_string(i)), std::to_string(i) + "\n");
  }
  write_file(context / "Dockerfile",
             "FROM busybox\nCOPY data /data\nRUN ls /data | wc -l > /n && cat /data/f1 > /one\n");
  user_->give(context);
  auto build = [&](const std::string& tag) {
    std::vector<std::string> args{"--log-level", "debug", "build",         "--reproducible",
                                  "-t",          tag,     context.string()};
    auto as_root = run_mkimg(root_store(), args);
    EXPECT_EQ(as_root.exit_code, 0) << as_root.all();
    auto rootless = user_->mkimg(user_store(), args);
    EXPECT_EQ(rootless.exit_code, 0) << rootless.all();
    return rootless.all();
  };
  build("recall:1");
  write_file(context / "data" / "f1", "changed\n");
  ASSERT_TRUE(fs::remove(context / "data" / "f2"));
  user_->give(context);
  std::string log = build("recall:2");
  EXPECT_NE(log.find("1 written, 1 hidden"), std::string::npos) << log;
  EXPECT_EQ(compare("recall:2"), "");
  auto ran = user_->mkimg(user_store(), {"run", "--rm", "recall:2", "cat", "/n", "/one"});
  EXPECT_EQ(ran.out, "49\nchanged\n") << ran.all();
}

// A cache mount holds files of subordinate ids in a directory only they may open: `cache
// prune` (in the namespace) removes it all the same.
TEST_F(RootlessTest, CachePruneRemovesCacheMountsOfSubordinateIds) {
  fs::path context = user_->home() / "cache-mount";
  fs::create_directories(context);
  write_file(context / "Dockerfile",
             "FROM busybox\n"
             "RUN --mount=type=cache,target=/c mkdir -p /c/d && touch /c/d/f && "
             "chown -R 1000:1000 /c/d && chmod 700 /c/d\n");
  user_->give(context);
  auto built = user_->mkimg(user_store(), {"build", context.string()});
  ASSERT_EQ(built.exit_code, 0) << built.all();
  auto pruned = user_->mkimg(user_store(), {"cache", "prune"});
  ASSERT_EQ(pruned.exit_code, 0) << pruned.all();
  EXPECT_NE(pruned.out.find("Deleted 1 cache mount\n"), std::string::npos) << pruned.out;
  auto left = run({"sh", "-c",
                   "find '" + (user_store() / "cache/mounts").string() + "' '" +
                       (user_store() / "tmp").string() + "' -mindepth 1 | wc -l"});
  EXPECT_EQ(left.out, "0\n") << left.all();
}

// Push and pull as the user (they need no namespace), and a rootless build FROM the pulled
// image gives root's image.
TEST_F(RootlessTest, PushPullAndBuildFromTheRegistry) {
  Registry reg(RegistryMode::kHttp);
  std::string ref = reg.host() + "/rootless/busybox:1";
  auto pushed = user_->mkimg(user_store(), {"push", "busybox:latest", ref});
  ASSERT_EQ(pushed.exit_code, 0) << pushed.all();
  fs::path pulled_store = user_->home() / "store2";
  auto pulled = user_->mkimg(pulled_store, {"pull", ref});
  ASSERT_EQ(pulled.exit_code, 0) << pulled.all();
  fs::path context = user_->home() / "from-registry";
  write_file(context / "Dockerfile",
             "FROM " + ref + "\nRUN mkdir /made && chown 1000:1000 /made && rm -rf /home\n");
  user_->give(user_->home());
  std::vector<std::string> args{"build", "--reproducible", "-t", "from:registry", context.string()};
  auto rootless = user_->mkimg(pulled_store, args);
  ASSERT_EQ(rootless.exit_code, 0) << rootless.all();
  auto as_root = run_mkimg(root_store(), args);
  ASSERT_EQ(as_root.exit_code, 0) << as_root.all();
  EXPECT_EQ(digest_of(run_mkimg(root_store(), {"inspect", "from:registry"})),
            digest_of(user_->mkimg(pulled_store, {"inspect", "from:registry"})));
}

// A user namespace can make no device node. A base layer holding one unpacks without it (as
// rootless moby and buildah do: a container gets its own /dev) and builds on top of it give
// root's image; importing a tree that holds one is an error saying why.
TEST_F(RootlessTest, DeviceNodesInABaseAndInAnImport) {
  fs::path context = user_->home() / "devices";
  write_file(context / "Dockerfile", "FROM busybox\nRUN mknod /opt-null c 1 3\n");
  auto made = run_mkimg(root_store(), {"build", "-t", "devices:base", context.string()});
  ASSERT_EQ(made.exit_code, 0) << made.all();
  fs::path archive = user_->home() / "devices.tar";
  auto saved =
      run_mkimg(root_store(), {"save", "--format", "oci", "-o", archive.string(), "devices:base"});
  ASSERT_EQ(saved.exit_code, 0) << saved.all();
  write_file(context / "Dockerfile", "FROM devices:base\nRUN echo on top > /on-top\n");
  user_->give(user_->home());
  ASSERT_EQ(user_->mkimg(user_store(), {"load", "-i", archive.string()}).exit_code, 0);
  std::vector<std::string> args{"build", "--reproducible", "-t", "devices:top", context.string()};
  auto rootless = user_->mkimg(user_store(), args);
  ASSERT_EQ(rootless.exit_code, 0) << rootless.all();
  ASSERT_EQ(run_mkimg(root_store(), args).exit_code, 0);
  EXPECT_EQ(compare("devices:top"), "");

  fs::path tree = user_->home() / "tree";
  fs::create_directories(tree / "dev");
  ASSERT_EQ(run({"mknod", (tree / "dev/null").string(), "c", "1", "3"}).exit_code, 0);
  fs::path tar = user_->home() / "tree.tar";
  ASSERT_EQ(run({"tar", "-C", tree.string(), "-cf", tar.string(), "."}).exit_code, 0);
  user_->give(tar);
  auto imported = user_->mkimg(user_store(), {"import", tar.string(), "tree:1"});
  EXPECT_EQ(imported.exit_code, 1) << imported.all();
  EXPECT_NE(
      imported.err.find("create device `dev/null`: no device can be made in a user namespace"),
      std::string::npos)
      << imported.err;
}

TEST_F(RootlessTest, NoRangeNamesTheFileAndTheFix) {
  RootlessUser none("mkimg-rootless-none", "", work_.path());
  ASSERT_EQ(none.error(), "");
  auto r = none.mkimg(none.home() / "store", {"build", user_->home().string()});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_NE(r.err.find("no subordinate ids for the user in /etc/subuid"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("usermod --add-subuids"), std::string::npos) << r.err;
  // Commands that touch only the user's own files need no range.
  auto listed = none.mkimg(none.home() / "store", {"images"});
  EXPECT_EQ(listed.exit_code, 0) << listed.all();
}

TEST_F(RootlessTest, RangeTooSmallNamesTheIdAndTheFix) {
  RootlessUser small("mkimg-rootless-small", "470000 10", work_.path());
  ASSERT_EQ(small.error(), "");
  small.give(user_->home() / "busybox.tar");
  // busybox's /home/app belongs to 1000, beyond the 11 ids (0 and 1-10) the user has.
  auto r =
      small.mkimg(small.home() / "store", {"load", "-i", (user_->home() / "busybox.tar").string()});
  ASSERT_EQ(r.exit_code, 0) << r.all();  // load does not unpack
  fs::path context = small.home() / "ctx";
  write_file(context / "Dockerfile", "FROM busybox\nRUN true\n");
  small.give(small.home());
  auto built = small.mkimg(small.home() / "store", {"build", context.string()});
  EXPECT_EQ(built.exit_code, 1) << built.all();
  EXPECT_NE(built.err.find("chown `home/app`: uid 1000 or gid 1000 is not mapped"),
            std::string::npos)
      << built.err;
  EXPECT_NE(built.err.find("uids 0-10"), std::string::npos) << built.err;
  EXPECT_NE(built.err.find("larger range in /etc/subuid"), std::string::npos) << built.err;
}

TEST_F(RootlessTest, MissingNewuidmapNamesThePackage) {
  // A PATH with runuser's tools but no newuidmap.
  fs::path bin = user_->home() / "path";
  fs::create_directories(bin);
  auto r = user_->run_as({"env", "PATH=" + bin.string(), user_->binary().string(), "--root",
                          user_store().string(), "build", user_->home().string()});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_NE(r.err.find("newuidmap"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("install the uidmap package"), std::string::npos) << r.err;
}

TEST_F(RootlessTest, UserNamespacesDisabledNamesTheSysctls) {
  // tests/support/no_userns.py: a user namespace whose user.max_user_namespaces is 0, so
  // unprivileged user namespaces are off for the user's mkimg and nothing else on the machine.
  auto ids = run({"id", "-u", user_->name()});
  auto gid = run({"id", "-g", user_->name()});
  ASSERT_EQ(ids.exit_code, 0) << ids.all();
  auto trim = [](std::string s) { return s.substr(0, s.find('\n')); };
  auto r = run({(source_dir() / "tests/support/no_userns.py").string(), trim(ids.out),
                trim(gid.out), user_->binary().string(), "--root", user_store().string(), "build",
                user_->home().string()});
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_NE(r.err.find("create `user namespace`"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("user.max_user_namespaces is 0"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("sysctl user.max_user_namespaces=15000"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace mkimg::testing::peers
