// References normalise like Docker's and reject malformed names with clear errors.
#include "oci/reference.h"

#include <gtest/gtest.h>

#include "common/error.h"

using mkimg::oci::Reference;

TEST(Reference, OneComponentNameGetsDockerHubLibraryAndLatest) {
  Reference r = Reference::parse("busybox");
  EXPECT_EQ(r.domain, "docker.io");
  EXPECT_EQ(r.path, "library/busybox");
  EXPECT_EQ(r.tag, "latest");
  EXPECT_EQ(r.str(), "docker.io/library/busybox:latest");
  EXPECT_EQ(r.familiar(), "busybox:latest");
}

TEST(Reference, RegistryIsRecognisedByDotColonOrLocalhost) {
  EXPECT_EQ(Reference::parse("localhost:5000/app:v1").domain, "localhost:5000");
  EXPECT_EQ(Reference::parse("localhost/app").domain, "localhost");
  EXPECT_EQ(Reference::parse("ghcr.io/org/app:1.0").path, "org/app");
  EXPECT_EQ(Reference::parse("team/app").str(), "docker.io/team/app:latest");
  EXPECT_EQ(Reference::parse("[::1]:5000/app").domain, "[::1]:5000");
  EXPECT_EQ(Reference::parse("index.docker.io/library/x").str(), "docker.io/library/x:latest");
}

TEST(Reference, FamiliarFormRoundTrips) {
  for (const char* text : {"busybox:1", "team/app:v1", "ghcr.io/x/y:2", "localhost:5000/a/b:c",
                           "docker.io/my.org/app:v1", "docker.io/library/a/b:c"}) {
    Reference r = Reference::parse(text);
    EXPECT_EQ(Reference::parse(r.familiar()), r) << text << " -> " << r.familiar();
  }
}

TEST(Reference, DigestOnlyReferenceHasNoDefaultTag) {
  std::string digest = "sha256:" + std::string(64, 'a');
  Reference r = Reference::parse("app@" + digest);
  EXPECT_FALSE(r.tag);
  EXPECT_EQ(r.digest->str(), digest);
  Reference both = Reference::parse("app:v1@" + digest);
  EXPECT_EQ(both.tag, "v1");
  EXPECT_EQ(both.familiar(), "app:v1@" + digest);
}

TEST(Reference, MalformedReferencesAreRejected) {
  for (const char* bad :
       {"", "App", "app:", ":tag", "app:-x", "app@sha256:zz", "a//b", "-app", "app/", "app:v1:v2",
        "ex ample", "a..b", "localhost:abc/app", "app@", "app:tag with space"}) {
    EXPECT_THROW(Reference::parse(bad), mkimg::Error) << bad;
  }
}

TEST(Reference, ErrorsSayWhatIsWrong) {
  try {
    Reference::parse("MyApp");
    FAIL();
  } catch (const mkimg::Error& e) {
    EXPECT_STREQ(e.what(), "parse reference `MyApp`: repository name must be lowercase");
  }
}

TEST(Reference, TagLengthIsLimitedTo128) {
  EXPECT_NO_THROW(Reference::parse("app:" + std::string(128, 'a')));
  EXPECT_THROW(Reference::parse("app:" + std::string(129, 'a')), mkimg::Error);
}
