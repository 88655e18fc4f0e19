// The library entry points the build engine calls: pull_image for `FROM 127.0.0.1:PORT/x`
// and push_image for `build --push`, in-process against a real registry.
#include <gtest/gtest.h>

#include "common/error.h"
#include "registry/pull.h"
#include "registry/push.h"
#include "tests/integration/registry/test_image.h"
#include "tests/support/registry_fixture.h"

namespace mkimg::testing {
namespace {

TEST(RegistryLibrary, PushImageThenPullImageTagsTheSameManifest) {
  Registry reg(RegistryMode::kHttp);
  TempDir a, b;
  TestImage img = make_image(a.path(), "base:1", "library call");
  oci::Reference ref = oci::Reference::parse(reg.host() + "/base:1");
  {
    oci::Store store = oci::Store::open(a.path());
    oci::Descriptor pushed = registry::push_image(store, "base:1", ref, {});
    EXPECT_EQ(pushed.digest, img.manifest.digest);
  }
  oci::Store store = oci::Store::open(b.path());
  std::vector<std::string> lines;
  registry::PullOptions options;
  options.progress = [&](std::string_view line) { lines.emplace_back(line); };
  oci::Descriptor pulled = registry::pull_image(store, ref, options);
  EXPECT_EQ(pulled.digest, img.manifest.digest);
  ASSERT_TRUE(store.resolve(ref.str()));
  EXPECT_EQ(store.resolve(ref.str())->digest, img.manifest.digest);
  EXPECT_TRUE(store.has_blob(img.layer.digest));
  EXPECT_FALSE(lines.empty());
}

TEST(RegistryLibrary, PullImageOfAMissingImageThrowsWithTheReference) {
  Registry reg(RegistryMode::kHttp);
  TempDir b;
  oci::Store store = oci::Store::open(b.path());
  oci::Reference ref = oci::Reference::parse(reg.host() + "/nothing:here");
  try {
    registry::pull_image(store, ref, {});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not found"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(reg.host() + "/nothing:here"), std::string::npos)
        << e.what();
  }
}

TEST(RegistryLibrary, PullImageChoosesThePlatformOfAnIndex) {
  Registry reg(RegistryMode::kHttp);
  TempDir a, b;
  TestImage amd = make_image(a.path(), "", "amd", "linux/amd64");
  TestImage arm = make_image(a.path(), "", "arm", "linux/arm64/v8");
  make_index(a.path(), "multi:1",
             {{amd.manifest, "linux/amd64"}, {arm.manifest, "linux/arm64/v8"}});
  oci::Reference ref = oci::Reference::parse(reg.host() + "/multi:1");
  {
    oci::Store store = oci::Store::open(a.path());
    registry::push_image(store, "multi:1", ref, {});
  }
  oci::Store store = oci::Store::open(b.path());
  registry::PullOptions options;
  options.platform = "linux/arm64";
  EXPECT_EQ(registry::pull_image(store, ref, options).digest, arm.manifest.digest);
  EXPECT_FALSE(store.has_blob(amd.layer.digest)) << "the other platform is not downloaded";
  options.platform = "linux/riscv64";
  EXPECT_THROW(registry::pull_image(store, ref, options), Error);
}

}  // namespace
}  // namespace mkimg::testing
