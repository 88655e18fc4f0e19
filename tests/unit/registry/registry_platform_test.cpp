// Choosing the platform's manifest in an index, and the Accept header for manifests.
#include "registry/platform.h"

#include <gtest/gtest.h>

#include "oci/media_types.h"
#include "registry/client.h"

namespace mkimg::registry {
namespace {

oci::Descriptor entry(std::string os, std::string arch, std::string variant, char id,
                      std::string type = std::string(oci::media_type::kOciManifest)) {
  oci::Descriptor d;
  d.media_type = type;
  d.digest = oci::Digest::parse("sha256:" + std::string(64, id));
  d.size = 100;
  d.platform = oci::Platform{arch, os, "", {}, variant};
  return d;
}

oci::Index index_of(std::vector<oci::Descriptor> manifests) {
  oci::Index i;
  i.media_type = oci::media_type::kOciIndex;
  i.manifests = std::move(manifests);
  return i;
}

TEST(PlatformSelection, PicksOsAndArchitecture) {
  oci::Index i = index_of({entry("linux", "arm64", "v8", 'a'), entry("linux", "amd64", "", 'b'),
                           entry("windows", "amd64", "", 'c')});
  EXPECT_EQ(select_platform(i, oci::parse_platform("linux/amd64"))->digest.encoded()[0], 'b');
  EXPECT_EQ(select_platform(i, oci::parse_platform("linux/arm64"))->digest.encoded()[0], 'a');
  EXPECT_EQ(select_platform(i, oci::parse_platform("windows/amd64"))->digest.encoded()[0], 'c');
  EXPECT_FALSE(select_platform(i, oci::parse_platform("linux/s390x")));
}

TEST(PlatformSelection, ArmVariantsNormalise) {
  oci::Index i = index_of({entry("linux", "arm", "v6", '1'), entry("linux", "arm", "", '2'),
                           entry("linux", "arm64", "", '3')});
  EXPECT_EQ(select_platform(i, oci::parse_platform("linux/arm/v6"))->digest.encoded()[0], '1');
  EXPECT_EQ(select_platform(i, oci::parse_platform("linux/arm/v7"))->digest.encoded()[0], '2');
  EXPECT_EQ(select_platform(i, oci::parse_platform("linux/arm64/v8"))->digest.encoded()[0], '3');
  EXPECT_FALSE(select_platform(i, oci::parse_platform("linux/arm/v5")));
}

TEST(PlatformSelection, WithoutVariantPrefersTheDefaultVariantThenAnyVariant) {
  oci::Index i = index_of({entry("linux", "arm", "v6", '1'), entry("linux", "arm", "v7", '2')});
  EXPECT_EQ(select_platform(i, oci::parse_platform("linux/arm"))->digest.encoded()[0], '2');
  oci::Index only_v6 = index_of({entry("linux", "arm", "v6", '1')});
  EXPECT_EQ(select_platform(only_v6, oci::parse_platform("linux/arm"))->digest.encoded()[0], '1');
}

TEST(PlatformSelection, SkipsEntriesWithoutPlatformOrThatAreIndexes) {
  oci::Descriptor no_platform = entry("linux", "amd64", "", 'a');
  no_platform.platform.reset();
  oci::Index i = index_of(
      {no_platform, entry("linux", "amd64", "", 'b', std::string(oci::media_type::kOciIndex)),
       entry("linux", "amd64", "", 'c', std::string(oci::media_type::kDockerManifest))});
  EXPECT_EQ(select_platform(i, oci::parse_platform("linux/amd64"))->digest.encoded()[0], 'c');
}

TEST(PlatformSelection, DescribesWhatTheIndexOffers) {
  oci::Index i = index_of({entry("linux", "amd64", "", 'a'), entry("linux", "arm64", "v8", 'b')});
  EXPECT_EQ(describe_platforms(i), "linux/amd64, linux/arm64/v8");
}

TEST(ManifestAccept, OffersOciAndDockerManifestsAndIndexes) {
  std::string accept = manifest_accept_header();
  for (auto t : {oci::media_type::kOciManifest, oci::media_type::kOciIndex,
                 oci::media_type::kDockerManifest, oci::media_type::kDockerManifestList}) {
    EXPECT_NE(accept.find(t), std::string::npos) << t;
  }
  EXPECT_EQ(accept.find("v1+prettyjws"), std::string::npos) << "schema 1 is not asked for";
}

}  // namespace
}  // namespace mkimg::registry
