// --cache-to / --cache-from values: the forms of `docker buildx build`, and the tag of a key.

#include "cache/cache_location.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace mkimg::cache {
namespace {

const std::string kKey = "sha256:" + std::string(64, 'a');

TEST(CacheLocation, RegistryFormsAndModes) {
  auto to = parse_cache_to("type=registry,ref=localhost:5000/team/cache,mode=max");
  EXPECT_EQ(to.type, LocationType::kRegistry);
  EXPECT_EQ(to.ref, "localhost:5000/team/cache");
  EXPECT_EQ(to.mode, ExportMode::kMax);
  EXPECT_EQ(parse_cache_to("localhost:5000/cache").mode, ExportMode::kMin);
  EXPECT_EQ(parse_cache_from("localhost:5000/cache").type, LocationType::kRegistry);
  EXPECT_EQ(parse_cache_to("ref=localhost:5000/cache").type, LocationType::kRegistry);
  EXPECT_EQ(parse_cache_to("type=inline").type, LocationType::kInline);
  // buildx settings that change nothing here are accepted.
  EXPECT_NO_THROW(parse_cache_to("type=registry,ref=r.io/c,oci-mediatypes=true,compression=zstd"));
}

TEST(CacheLocation, LocalNeedsItsDirectory) {
  EXPECT_EQ(parse_cache_to("type=local,dest=/ci/cache").dir, "/ci/cache");
  EXPECT_EQ(parse_cache_from("type=local,src=/ci/cache").dir, "/ci/cache");
  EXPECT_THROW(parse_cache_to("type=local,src=/ci/cache"), Error);
  EXPECT_THROW(parse_cache_from("type=local,dest=/ci/cache"), Error);
}

TEST(CacheLocation, BadValuesNameThemselves) {
  for (const char* bad : {"type=registry", "type=gha,url=x", "type=registry,ref=r.io/c,mode=all",
                          "type=registry,ref=r.io/c,colour=red", "type=registry,ref=r.io/c,ref=x",
                          "=x", "", "type=registry,ref=UPPER/Case"}) {
    try {
      parse_cache_to(bad);
      ADD_FAILURE() << "accepted: " << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(std::string("--cache-to `") + bad + "`"),
                std::string::npos)
          << e.what();
    }
  }
  EXPECT_THROW(parse_cache_from("type=registry,ref=r.io/c,mode=max"), Error);
  EXPECT_THROW(parse_cache_from("type=inline"), Error);
}

TEST(CacheLocation, AKeysTagCarriesTheRefsOwnTagInFront) {
  EXPECT_EQ(key_tag(parse_cache_to("r.io/team/cache"), kKey), "sha256-" + std::string(64, 'a'));
  EXPECT_EQ(key_tag(parse_cache_to("r.io/team/cache:main"), kKey),
            "main-sha256-" + std::string(64, 'a'));
  EXPECT_EQ(key_tag(parse_cache_to("localhost:5000/cache"), kKey),
            "sha256-" + std::string(64, 'a'));
  EXPECT_THROW(parse_cache_to("r.io/c:" + std::string(57, 't')), Error);
  EXPECT_EQ(repository_of(parse_cache_to("r.io/team/cache:main")), "r.io/team/cache");
}

}  // namespace
}  // namespace mkimg::cache
