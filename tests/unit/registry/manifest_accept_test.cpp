// The Accept header for manifests.
#include <gtest/gtest.h>

#include "oci/media_types.h"
#include "registry/client.h"

namespace mkimg::registry {
namespace {

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
