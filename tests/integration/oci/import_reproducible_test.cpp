// With SOURCE_DATE_EPOCH set, the same root imported at different times, from different
// directories, into different stores gives the same manifest digest.
#include <unistd.h>

#include "tests/integration/oci/oci_helpers.h"

namespace mkimg::testing {
namespace {

std::string import(const fs::path& store, const fs::path& rootfs,
                   const std::map<std::string, std::string>& env, const std::string& name,
                   const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args = {"import", rootfs.string(), name};
  args.insert(args.end(), extra.begin(), extra.end());
  auto r = run_mkimg(store, args, env);
  EXPECT_EQ(r.exit_code, 0) << r.all();
  return last_line(r.out);
}

TEST(ImportReproducible, SameRootGivesSameDigestAcrossTimesDirectoriesAndStores) {
  TempDir dir;
  make_busybox_root(dir / "first");
  std::map<std::string, std::string> env = {{"SOURCE_DATE_EPOCH", "1700000000"}};
  // Every time stamp now, so past the epoch: the writer clamps them all to it.
  ASSERT_EQ(run({"find", (dir / "first").string(), "-exec", "touch", "-h", "{}", "+"}).exit_code,
            0);
  std::string a = import(dir / "store-a", dir / "first", env, "app:v1");
  // A copy elsewhere, a second later, with every time stamp moved to that later now.
  ASSERT_EQ(run({"cp", "-a", (dir / "first").string(), (dir / "second").string()}).exit_code, 0);
  ASSERT_EQ(
      run({"sh", "-c", "sleep 1; find '" + (dir / "second").string() + "' -exec touch -h {} +"})
          .exit_code,
      0);
  std::string b = import(dir / "store-b", dir / "second", env, "other/name:v9");
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.size(), 71u) << a;
  std::string zstd =
      import(dir / "store-b", dir / "second", env, "app:zstd", {"--compression", "zstd"});
  EXPECT_NE(zstd, a);
  EXPECT_EQ(import(dir / "store-a", dir / "first", env, "app:zstd", {"--compression", "zstd"}),
            zstd);
}

TEST(ImportReproducible, TarInputIsRewrittenToTheSameLayerAsTheDirectory) {
  TempDir dir;
  make_busybox_root(dir / "rootfs");
  ASSERT_EQ(run({"tar", "-C", (dir / "rootfs").string(), "-cf", (dir / "root.tar").string(), "."})
                .exit_code,
            0);
  std::map<std::string, std::string> env = {{"SOURCE_DATE_EPOCH", "0"}};
  EXPECT_EQ(import(dir / "store", dir / "rootfs", env, "from:dir"),
            import(dir / "store", dir / "root.tar", env, "from:tar"));
}

TEST(ImportReproducible, WithoutTheEpochCreatedIsNow) {
  TempDir dir;
  make_busybox_root(dir / "rootfs");
  import(dir / "store", dir / "rootfs", {}, "app:now");
  auto j = images_json(dir / "store");
  ASSERT_EQ(j.size(), 1u);
  EXPECT_NE(j[0]["created"], "1970-01-01T00:00:00Z");
  EXPECT_GT(j[0]["created"].get<std::string>(), std::string("2020"));
}

}  // namespace
}  // namespace mkimg::testing
