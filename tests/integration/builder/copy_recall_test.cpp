// A COPY rebuilt after one changed source file (builder/copy/recall.h): the unchanged entries'
// bytes come from the last build's blob unread and its unchanged gzip members are copied, the
// layer's directory is a delta stacked on the whole directory at the bottom of the last one
// (or, when more than half changed, the unchanged files are hardlinked from it), and the image is
// byte for byte the one a build from nothing (--no-cache) makes; the earlier image never changes
// through the files it shares; prune keeps what a needed stack stands on; a damaged record only
// costs the work.
#include <nlohmann/json.hpp>
#include <regex>
#include <tuple>

#include "tests/support/builder_fixture.h"

namespace mkimg::testing {
namespace {

class CopyRecallTest : public BuilderTest {
 protected:
  void SetUp() override {
    BuilderTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    fs::create_directories(ctx());
    auto r = run({"sh", "-c",
                  "cd \"$1\" && for i in $(seq 1 300); do mkdir -p d$((i % 3)) && "
                  "head -c 3000 /dev/urandom | od -An -tx1 > d$((i % 3))/f$i; done",
                  "sh", ctx().string()});
    ASSERT_EQ(r.exit_code, 0) << r.all();
    write_file(ctx() / "Dockerfile",
               "FROM busybox:latest\nCOPY . /ctx\nRUN cat /ctx/d1/f1 > /first\n");
  }

  fs::path ctx() const { return dir("ctx"); }

  CommandResult build_tag(const std::string& tag, bool no_cache = false) {
    std::vector<std::string> args{"--log-level", "debug", "build", "--progress",
                                  "plain",       "-t",    tag};
    if (no_cache) args.push_back("--no-cache");
    args.push_back(ctx().string());
    return run_mkimg(store(), args, {{"SOURCE_DATE_EPOCH", "1500000000"}});
  }

  /// {files written, files linked} of the build's COPY.
  static std::pair<int, int> files(const std::string& log) {
    std::smatch m;
    static const std::regex re("(\\d+) written, (\\d+) linked");
    if (!std::regex_search(log, m, re)) return {-1, -1};
    return {std::stoi(m[1]), std::stoi(m[2])};
  }

  /// {gzip members copied, members} of the build's COPY.
  static std::pair<int, int> members(const std::string& log) {
    std::smatch m;
    static const std::regex re("(\\d+) of (\\d+) gzip members copied");
    if (!std::regex_search(log, m, re)) return {-1, -1};
    return {std::stoi(m[1]), std::stoi(m[2])};
  }

  /// {entries taken from the last build's blob unread, entries} of the build's COPY.
  static std::pair<int, int> unread(const std::string& log) {
    std::smatch m;
    static const std::regex re("(\\d+) of (\\d+) entries taken from it unread");
    if (!std::regex_search(log, m, re)) return {-1, -1};
    return {std::stoi(m[1]), std::stoi(m[2])};
  }

  /// {files written, entries hidden, entries kept below} of a COPY made as a delta.
  static std::tuple<int, int, int> stacked(const std::string& log) {
    std::smatch m;
    static const std::regex re("(\\d+) written, (\\d+) hidden, (\\d+) kept");
    if (!std::regex_search(log, m, re)) return {-1, -1, -1};
    return {std::stoi(m[1]), std::stoi(m[2]), std::stoi(m[3])};
  }

  int stacks() const {
    int n = 0;
    for (const auto& e : fs::directory_iterator(store() / "layers")) {
      n += e.path().extension() == ".stack" ? 1 : 0;
    }
    return n;
  }

  std::string digest(const std::string& image) {
    auto r = run_mkimg(store(), {"inspect", image});
    if (r.exit_code != 0) return "inspect failed: " + r.all();
    return nlohmann::json::parse(r.out).at(0).at("Digest").get<std::string>();
  }

  void change_one_file() {
    auto r = run({"sh", "-c", "echo changed >> \"$1\"/d1/f1", "sh", ctx().string()});
    ASSERT_EQ(r.exit_code, 0) << r.all();
  }
};

TEST_F(CopyRecallTest, RebuildAfterOneChangeIsTheImageOfABuildFromNothing) {
  auto first = build_tag("app:v1");
  ASSERT_EQ(first.exit_code, 0) << first.all();
  EXPECT_EQ(files(first.all()), std::make_pair(301, 0)) << first.all();
  EXPECT_EQ(members(first.all()).first, 0) << first.all();

  change_one_file();
  auto second = build_tag("app:v2");
  ASSERT_EQ(second.exit_code, 0) << second.all();
  // f1 and its directories d1 and /ctx made, the other 302 entries below.
  EXPECT_EQ(stacked(second.all()), std::make_tuple(1, 0, 302)) << second.all();
  EXPECT_EQ(stacks(), 1);
  auto [copied, total] = members(second.all());
  EXPECT_GT(total, 0) << second.all();
  EXPECT_GE(copied, total - 2) << second.all();
  // /ctx, its 3 directories, the Dockerfile and 299 files were not read again: all but f1.
  EXPECT_EQ(unread(second.all()), std::make_pair(304, 305)) << second.all();

  auto scratch = build_tag("app:scratch", true);
  ASSERT_EQ(scratch.exit_code, 0) << scratch.all();
  EXPECT_EQ(files(scratch.all()), std::make_pair(301, 0)) << scratch.all();
  EXPECT_EQ(members(scratch.all()).first, 0) << scratch.all();
  EXPECT_EQ(digest("app:v2"), digest("app:scratch"));
  EXPECT_NE(digest("app:v2"), digest("app:v1"));

  auto r = run_image("app:v2", {"sh", "-c", "tail -n1 /first; tail -n1 /ctx/d1/f1"});
  EXPECT_EQ(r.out, "changed\nchanged\n") << r.all();
  r = run_image("app:v1", {"sh", "-c", "tail -n1 /ctx/d1/f1 | grep -c changed"});
  EXPECT_EQ(r.out, "0\n") << r.all();
}

TEST_F(CopyRecallTest, TheEarlierImageNeverChangesThroughTheFilesItShares) {
  ASSERT_EQ(build_tag("app:v1").exit_code, 0);
  auto before = run_image("app:v1", {"sh", "-c", "md5sum /ctx/d0/f3; stat -c %a /ctx/d0/f6"});
  ASSERT_EQ(before.exit_code, 0) << before.all();
  change_one_file();
  auto second = build_tag("app:v2");
  ASSERT_EQ(second.exit_code, 0) << second.all();
  ASSERT_EQ(std::get<2>(stacked(second.all())), 302) << second.all();

  // A step on top of the new image, and `mkimg run` of it, change shared files.
  fs::path on_top = dir("on-top");
  fs::create_directories(on_top);
  write_file(on_top / "Dockerfile",
             "FROM app:v2\nRUN echo mutated >> /ctx/d0/f3 && chmod 600 /ctx/d0/f6 && "
             "touch -d @1 /ctx/d2/f2\n");
  auto third = build(on_top, {"-t", "app:v3"});
  ASSERT_EQ(third.exit_code, 0) << third.all();
  auto r = run_image("app:v2", {"sh", "-c", "echo again >> /ctx/d0/f3 && rm /ctx/d2/f5"});
  ASSERT_EQ(r.exit_code, 0) << r.all();

  auto after = run_image("app:v1", {"sh", "-c", "md5sum /ctx/d0/f3; stat -c %a /ctx/d0/f6"});
  EXPECT_EQ(after.out, before.out) << after.all();
  r = run_image("app:v2", {"sh", "-c",
                           "grep -c mutated /ctx/d0/f3; stat -c %Y /ctx/d2/f2; "
                           "test -f /ctx/d2/f5 && echo kept"});
  EXPECT_EQ(r.out.substr(0, 2), "0\n") << r.all();
  EXPECT_EQ(r.out.find("\n1\n"), std::string::npos) << r.all();
  EXPECT_NE(r.out.find("kept"), std::string::npos) << r.all();
  auto v3 = run_image("app:v3", {"sh", "-c", "grep -c mutated /ctx/d0/f3; stat -c %a /ctx/d0/f6"});
  EXPECT_EQ(v3.out, "1\n600\n") << v3.all();
}

TEST_F(CopyRecallTest, ADamagedRecordOnlyCostsTheWork) {
  ASSERT_EQ(build_tag("app:v1").exit_code, 0);
  fs::path records = store() / "cache" / "copy-recall";
  ASSERT_TRUE(fs::is_directory(records));
  int damaged = 0;
  std::string whole;
  for (const auto& e : fs::directory_iterator(records)) {
    whole = read_file(e.path());
    // Cut in the middle of the member list: the record ends too early.
    write_file(e.path(), whole.substr(0, whole.size() / 2));
    ++damaged;
  }
  ASSERT_EQ(damaged, 1);
  change_one_file();
  auto second = build_tag("app:v2");
  ASSERT_EQ(second.exit_code, 0) << second.all();
  EXPECT_EQ(files(second.all()), std::make_pair(301, 0)) << second.all();
  EXPECT_EQ(members(second.all()).first, 0) << second.all();
  EXPECT_EQ(unread(second.all()).first, 0) << second.all();

  // One digit of an entry's tar offset changed: the record's checksum no longer holds.
  for (const auto& e : fs::directory_iterator(records)) {
    std::string text = read_file(e.path());
    std::size_t entry = text.find(" ctx/d2/f2\n");
    ASSERT_NE(entry, std::string::npos);
    std::size_t digit = text.rfind(' ', entry - 1) - 1;
    text[digit] = text[digit] == '0' ? '1' : '0';
    write_file(e.path(), text);
  }
  change_one_file();
  auto damaged_sum = build_tag("app:v2b");
  ASSERT_EQ(damaged_sum.exit_code, 0) << damaged_sum.all();
  EXPECT_EQ(unread(damaged_sum.all()).first, 0) << damaged_sum.all();
  EXPECT_EQ(members(damaged_sum.all()).first, 0) << damaged_sum.all();

  // And a record naming a layer whose directory is gone: the blob's members still serve.
  change_one_file();
  for (const auto& e : fs::directory_iterator(store() / "layers")) fs::remove_all(e.path());
  auto third = build_tag("app:v3");
  ASSERT_EQ(third.exit_code, 0) << third.all();
  EXPECT_EQ(files(third.all()), std::make_pair(301, 0)) << third.all();
  auto [copied, total] = members(third.all());
  EXPECT_GE(copied, total - 2) << third.all();
  auto scratch = build_tag("app:scratch", true);
  ASSERT_EQ(scratch.exit_code, 0) << scratch.all();
  EXPECT_EQ(digest("app:v3"), digest("app:scratch"));

  // `mkimg prune` removes the records whose blobs it removed, and only those.
  ASSERT_EQ(fs::directory_iterator(records) != fs::directory_iterator(), true);
  for (const char* tag : {"app:v1", "app:v2", "app:v2b", "app:v3", "app:scratch"}) {
    auto r = run_mkimg(store(), {"rmi", tag});
    ASSERT_EQ(r.exit_code, 0) << r.all();
  }
  auto pruned = run_mkimg(store(), {"prune"});
  ASSERT_EQ(pruned.exit_code, 0) << pruned.all();
  EXPECT_TRUE(fs::is_empty(records));
}

// Every rebuild's delta goes on the whole directory at the bottom of the last layer's stack, so
// a stack is never deeper than two directories however many rebuilds follow: what earlier
// deltas held is carried (a file changed once is linked from its delta, a file gone stays
// hidden, a directory gone and made again hides what the whole directory had in it), and every
// image is the one a build from nothing makes.
TEST_F(CopyRecallTest, EveryDeltaGoesOnTheWholeDirectoryAndCarriesWhatWasBeforeIt) {
  // The builds from nothing are made in a store of their own, with the same base: one here
  // would record a whole directory for the same layer, and the next rebuild would go on it.
  fs::path fresh = dir("fresh-store"), base = dir("busybox.tar");
  ASSERT_EQ(run_mkimg(store(), {"save", "--format", "oci", "-o", base.string(), "busybox:latest"})
                .exit_code,
            0);
  ASSERT_EQ(run_mkimg(fresh, {"load", "-i", base.string()}).exit_code, 0);
  auto from_nothing = [&] {
    auto b = run_mkimg(
        fresh, {"build", "--progress", "plain", "--no-cache", "-t", "app:scratch", ctx().string()},
        {{"SOURCE_DATE_EPOCH", "1500000000"}});
    if (b.exit_code != 0) return "build failed: " + b.all();
    auto r = run_mkimg(fresh, {"inspect", "app:scratch"});
    if (r.exit_code != 0) return "inspect failed: " + r.all();
    return nlohmann::json::parse(r.out).at(0).at("Digest").get<std::string>();
  };
  ASSERT_EQ(build_tag("app:v0").exit_code, 0);
  ASSERT_TRUE(fs::remove(ctx() / "d2" / "f2"));
  auto gone = build_tag("app:gone");
  ASSERT_EQ(gone.exit_code, 0) << gone.all();
  EXPECT_EQ(std::get<1>(stacked(gone.all())), 1) << gone.all();
  auto r = run_image("app:gone", {"sh", "-c", "ls /ctx/d2 | grep -cx f2; ls /ctx/d2 | wc -l"});
  EXPECT_EQ(r.out, "0\n99\n") << r.all();
  r = run_image("app:v0", {"sh", "-c", "ls /ctx/d2 | grep -cx f2"});
  EXPECT_EQ(r.out, "1\n") << r.all();

  std::vector<std::string> logs;
  for (int i = 1; i <= 9; ++i) {
    change_one_file();
    if (i == 1) write_file(ctx() / "d0" / "f3", "changed once\n");
    if (i == 3) fs::remove_all(ctx() / "d0");
    if (i == 5) write_file(ctx() / "d0" / "new", "made again\n");
    auto b = build_tag("app:s" + std::to_string(i));
    ASSERT_EQ(b.exit_code, 0) << b.all();
    logs.push_back(b.all());
    EXPECT_EQ(digest("app:s" + std::to_string(i)), from_nothing()) << i;
  }
  // {written, hidden}: d1/f1 each time (and d0/f3, d0/new once); f2 hidden each time, d0 from
  // the fourth build on, and d0's 99 other files of the whole directory once d0 is back.
  std::vector<std::pair<int, int>> want{{2, 1},   {1, 1},   {1, 2},   {1, 2},  {2, 101},
                                        {1, 101}, {1, 101}, {1, 101}, {1, 101}};
  for (std::size_t i = 0; i < logs.size(); ++i) {
    auto [written, hidden, kept] = stacked(logs[i]);
    EXPECT_EQ(std::make_pair(written, hidden), want[i]) << i << logs[i];
  }
  // d0/f3, changed in the first rebuild only, is linked from that delta in the second.
  EXPECT_NE(logs[1].find("1 linked from it"), std::string::npos) << logs[1];
  r = run_image("app:s9",
                {"sh", "-c", "grep -c changed /ctx/d1/f1; ls /ctx/d0; ls /ctx/d2 | wc -l"});
  EXPECT_EQ(r.out, "9\nnew\n99\n") << r.all();
  // Each stack stands on a whole directory.
  for (const auto& e : fs::directory_iterator(store() / "layers")) {
    if (e.path().extension() != ".stack") continue;
    std::string below = read_file(e.path() / "below");
    EXPECT_TRUE(fs::is_directory(store() / "layers" / below)) << e.path();
    EXPECT_FALSE(fs::exists(store() / "layers" / (below + ".stack"))) << e.path();
  }
}

// The recall is keyed by the instruction, not the base: when the new base has a file at a path
// the last layer had and the context has no more, the delta's whiteout would hide the base's
// file. No delta is made then; the image is the one a build from nothing makes.
TEST_F(CopyRecallTest, AWhiteoutNeverHidesWhatANewBaseHas) {
  write_file(ctx() / "gone", "from the context\n");
  ASSERT_EQ(build_tag("app:v1").exit_code, 0);
  fs::path base = dir("base");
  fs::create_directories(base);
  write_file(base / "Dockerfile",
             "FROM busybox:latest\nRUN mkdir /ctx && echo from the base > /ctx/gone\n");
  auto b = build(base, {"-t", "busybox:latest"});
  ASSERT_EQ(b.exit_code, 0) << b.all();
  ASSERT_TRUE(fs::remove(ctx() / "gone"));
  auto second = build_tag("app:v2");
  ASSERT_EQ(second.exit_code, 0) << second.all();
  EXPECT_EQ(stacked(second.all()), std::make_tuple(-1, -1, -1)) << second.all();
  EXPECT_EQ(run_image("app:v2", {"cat", "/ctx/gone"}).out, "from the base\n");
  auto scratch = build_tag("app:scratch", true);
  ASSERT_EQ(scratch.exit_code, 0) << scratch.all();
  EXPECT_EQ(digest("app:v2"), digest("app:scratch"));
}

// Prune keeps the layers a needed stack stands on, though no image needs them any more.
TEST_F(CopyRecallTest, PruneKeepsWhatAStackStandsOn) {
  ASSERT_EQ(build_tag("app:v1").exit_code, 0);
  change_one_file();
  ASSERT_EQ(build_tag("app:v2").exit_code, 0);
  ASSERT_EQ(stacks(), 1);
  auto before = std::distance(fs::directory_iterator(store() / "layers"), fs::directory_iterator());
  // Neither an image nor the step cache needs v1's layers now.
  ASSERT_EQ(run_mkimg(store(), {"rmi", "app:v1"}).exit_code, 0);
  auto pruned = run_mkimg(store(), {"cache", "prune"});
  ASSERT_EQ(pruned.exit_code, 0) << pruned.all();
  pruned = run_mkimg(store(), {"prune"});
  ASSERT_EQ(pruned.exit_code, 0) << pruned.all();
  EXPECT_EQ(stacks(), 1);
  auto after = std::distance(fs::directory_iterator(store() / "layers"), fs::directory_iterator());
  EXPECT_EQ(after, before - 1) << "v1's RUN layer goes, its COPY layer stays under the stack";
  auto r = run_image("app:v2", {"sh", "-c", "ls /ctx/d0 | wc -l; tail -n1 /ctx/d1/f1"});
  EXPECT_EQ(r.out, "100\nchanged\n") << r.all();
  // A build on top of it mounts the whole stack.
  fs::path on_top = dir("on-top");
  fs::create_directories(on_top);
  write_file(on_top / "Dockerfile", "FROM app:v2\nRUN ls /ctx/d2 | wc -l > /n\n");
  auto b = build(on_top, {"-t", "app:top"});
  ASSERT_EQ(b.exit_code, 0) << b.all();
  EXPECT_EQ(run_image("app:top", {"cat", "/n"}).out, "100\n");

  ASSERT_EQ(run_mkimg(store(), {"rmi", "app:v2"}).exit_code, 0);
  ASSERT_EQ(run_mkimg(store(), {"rmi", "app:top"}).exit_code, 0);
  ASSERT_EQ(run_mkimg(store(), {"prune"}).exit_code, 0);
  EXPECT_EQ(stacks(), 0);
  auto left = std::distance(fs::directory_iterator(store() / "layers"), fs::directory_iterator());
  EXPECT_EQ(left, 1) << "only busybox's layer";
}

// A stack whose `below` is gone cannot be mounted: the layer is unpacked whole beside it, and
// prune removes the stack, which nothing uses any more (it used to keep it for good).
TEST_F(CopyRecallTest, PruneRemovesAStackNothingUses) {
  ASSERT_EQ(build_tag("app:v1").exit_code, 0);
  change_one_file();
  ASSERT_EQ(build_tag("app:v2").exit_code, 0);
  ASSERT_EQ(stacks(), 1);
  std::string stacked, below;
  for (const auto& e : fs::directory_iterator(store() / "layers")) {
    if (e.path().extension() != ".stack") continue;
    stacked = e.path().stem().string();
    below = read_file(e.path() / "below");
  }
  fs::remove_all(store() / "layers" / below);  // lost: a disk repaired, a hand that tidied
  auto r = run_image("app:v2", {"sh", "-c", "ls /ctx/d0 | wc -l; tail -n1 /ctx/d1/f1"});
  EXPECT_EQ(r.out, "100\nchanged\n") << r.all();
  EXPECT_TRUE(fs::is_directory(store() / "layers" / stacked)) << "unpacked whole";
  auto pruned = run_mkimg(store(), {"prune"});
  ASSERT_EQ(pruned.exit_code, 0) << pruned.all();
  EXPECT_EQ(stacks(), 0);
  EXPECT_TRUE(fs::is_directory(store() / "layers" / stacked));
  r = run_image("app:v2", {"sh", "-c", "ls /ctx/d0 | wc -l; tail -n1 /ctx/d1/f1"});
  EXPECT_EQ(r.out, "100\nchanged\n") << r.all();
}

}  // namespace
}  // namespace mkimg::testing
