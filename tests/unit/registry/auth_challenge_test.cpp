// WWW-Authenticate parsing: the forms registries send, and malformed input.
#include "registry/auth_challenge.h"

#include <gtest/gtest.h>

namespace mkimg::registry {
namespace {

TEST(AuthChallenge, BearerWithRealmServiceAndScope) {
  auto c = parse_challenges(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push")");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].scheme, AuthScheme::kBearer);
  EXPECT_EQ(c[0].param("realm"), "https://auth.docker.io/token");
  EXPECT_EQ(c[0].param("service"), "registry.docker.io");
  EXPECT_EQ(c[0].param("scope"), "repository:library/busybox:pull,push");
}

TEST(AuthChallenge, BasicWithRealmAndCaseInsensitiveNames) {
  auto c = parse_challenges(R"(basic REALM="Registry Realm")");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].scheme, AuthScheme::kBasic);
  EXPECT_EQ(c[0].param("realm"), "Registry Realm");
}

TEST(AuthChallenge, SeveralChallengesInOneHeaderKeepOrderAndSkipUnknownSchemes) {
  auto c = parse_challenges(
      R"(Negotiate abc==, Basic realm="a, b", Bearer realm="https://x/t", service=reg)");
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].scheme, AuthScheme::kBasic);
  EXPECT_EQ(c[0].param("realm"), "a, b");
  EXPECT_EQ(c[1].scheme, AuthScheme::kBearer);
  EXPECT_EQ(c[1].param("service"), "reg");
}

TEST(AuthChallenge, QuotedStringEscapesAreUnescaped) {
  auto c = parse_challenges(R"(Bearer realm="https://x/t",error="say \"hi\"")");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].param("error"), R"(say "hi")");
}

TEST(AuthChallenge, UnterminatedQuoteStopsWithoutThatParameter) {
  auto c = parse_challenges(R"(Bearer service="reg",realm="https://x)");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].param("service"), "reg");
  EXPECT_EQ(c[0].param("realm"), "");
}

TEST(AuthChallenge, EmptyAndGarbageGiveNothing) {
  EXPECT_TRUE(parse_challenges("").empty());
  EXPECT_TRUE(parse_challenges(" , ,").empty());
  EXPECT_TRUE(parse_challenges("=\"x\"").empty());
}

}  // namespace
}  // namespace mkimg::registry
