// Digest parsing is strict before a digest can become a path; hashers match known vectors.
#include "oci/digest.h"

#include <gtest/gtest.h>

#include "common/error.h"

using mkimg::Error;
using mkimg::oci::Digest;
using mkimg::oci::DigestAlgorithm;

namespace {
const std::string kEmptySha256 =
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
}

TEST(Digest, ParsesSha256AndSha512) {
  Digest d = Digest::parse(kEmptySha256);
  EXPECT_EQ(d.algorithm(), DigestAlgorithm::kSha256);
  EXPECT_EQ(d.str(), kEmptySha256);
  EXPECT_EQ(d.short_id(), "e3b0c44298fc");
  Digest e = Digest::parse("sha512:" + std::string(128, 'a'));
  EXPECT_EQ(e.algorithm(), DigestAlgorithm::kSha512);
}

TEST(Digest, RejectsEverythingThatCouldEscapeAPath) {
  for (std::string bad :
       {std::string("sha256:../../etc/passwd"), std::string("sha256:") + std::string(63, 'a'),
        std::string("sha256:") + std::string(65, 'a'),
        std::string("sha256:") + std::string(64, 'A'),
        std::string("sha256:") + std::string(63, 'a') + "/",
        std::string("md5:") + std::string(32, 'a'), std::string("sha256") + std::string(64, 'a'),
        std::string(""), std::string("sha256:"), std::string("SHA256:") + std::string(64, 'a'),
        std::string("sha512:") + std::string(64, 'a')}) {
    EXPECT_THROW(Digest::parse(bad), Error) << bad;
    EXPECT_FALSE(Digest::try_parse(bad)) << bad;
  }
}

TEST(Digest, ErrorMessageNamesTheDigest) {
  try {
    Digest::parse("sha256:xyz");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("parse digest `sha256:xyz`"), std::string::npos);
  }
}

TEST(Sha256, MatchesKnownVectors) {
  EXPECT_EQ(mkimg::oci::sha256_of("").str(), kEmptySha256);
  EXPECT_EQ(mkimg::oci::sha256_of("abc").str(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256, StreamingEqualsOneShot) {
  std::string data(100000, 'x');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7);
  mkimg::oci::Sha256 h;
  for (std::size_t i = 0; i < data.size(); i += 977)
    h.update(std::string_view(data).substr(i, 977));
  EXPECT_EQ(h.finish(), mkimg::oci::sha256_of(data));
}

TEST(Digest, OrdersAndHashes) {
  Digest a = mkimg::oci::sha256_of("a"), b = mkimg::oci::sha256_of("b");
  EXPECT_NE(a, b);
  EXPECT_EQ(a, Digest::parse(a.str()));
  EXPECT_EQ(std::hash<Digest>{}(a), std::hash<Digest>{}(Digest::parse(a.str())));
  EXPECT_TRUE(Digest().empty());
}
