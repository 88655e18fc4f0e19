// Choosing the platform's manifest in an index (oci::find_platform), as containerd does.
#include <gtest/gtest.h>

#include "oci/image.h"
#include "oci/media_types.h"

namespace mkimg::oci {
namespace {

Descriptor entry(std::string os, std::string arch, std::string variant, char id,
                 std::string type = std::string(media_type::kOciManifest)) {
  Descriptor d;
  d.media_type = type;
  d.digest = Digest::parse("sha256:" + std::string(64, id));
  d.size = 100;
  d.platform = Platform{arch, os, "", {}, variant};
  return d;
}

Index index_of(std::vector<Descriptor> manifests) {
  Index i;
  i.media_type = media_type::kOciIndex;
  i.manifests = std::move(manifests);
  return i;
}

TEST(PlatformSelection, PicksOsAndArchitecture) {
  Index i = index_of({entry("linux", "arm64", "v8", 'a'), entry("linux", "amd64", "", 'b'),
                      entry("windows", "amd64", "", 'c')});
  EXPECT_EQ(find_platform(i, parse_platform("linux/amd64"))->digest.encoded()[0], 'b');
  EXPECT_EQ(find_platform(i, parse_platform("linux/arm64"))->digest.encoded()[0], 'a');
  EXPECT_EQ(find_platform(i, parse_platform("windows/amd64"))->digest.encoded()[0], 'c');
  EXPECT_FALSE(find_platform(i, parse_platform("linux/s390x")));
}

TEST(PlatformSelection, ArmVariantsNormalise) {
  Index i = index_of({entry("linux", "arm", "v6", '1'), entry("linux", "arm", "", '2'),
                      entry("linux", "arm64", "", '3')});
  EXPECT_EQ(find_platform(i, parse_platform("linux/arm/v6"))->digest.encoded()[0], '1');
  EXPECT_EQ(find_platform(i, parse_platform("linux/arm/v7"))->digest.encoded()[0], '2');
  EXPECT_EQ(find_platform(i, parse_platform("linux/arm64/v8"))->digest.encoded()[0], '3');
  EXPECT_FALSE(find_platform(i, parse_platform("linux/arm/v5")));
}

TEST(PlatformSelection, WithoutVariantPrefersTheDefaultVariantThenAnyVariant) {
  Index i = index_of({entry("linux", "arm", "v6", '1'), entry("linux", "arm", "v7", '2')});
  EXPECT_EQ(find_platform(i, parse_platform("linux/arm"))->digest.encoded()[0], '2');
  Index only_v6 = index_of({entry("linux", "arm", "v6", '1')});
  EXPECT_EQ(find_platform(only_v6, parse_platform("linux/arm"))->digest.encoded()[0], '1');
}

TEST(PlatformSelection, SkipsEntriesWithoutPlatformOrThatAreIndexes) {
  Descriptor no_platform = entry("linux", "amd64", "", 'a');
  no_platform.platform.reset();
  Index i =
      index_of({no_platform, entry("linux", "amd64", "", 'b', std::string(media_type::kOciIndex)),
                entry("linux", "amd64", "", 'c', std::string(media_type::kDockerManifest))});
  EXPECT_EQ(find_platform(i, parse_platform("linux/amd64"))->digest.encoded()[0], 'c');
}

TEST(PlatformSelection, DescribesWhatTheIndexOffers) {
  Index i = index_of({entry("linux", "amd64", "", 'a'), entry("linux", "arm64", "v8", 'b')});
  EXPECT_EQ(describe_platforms(i), "linux/amd64, linux/arm64/v8");
}

}  // namespace
}  // namespace mkimg::oci
