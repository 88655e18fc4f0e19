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

TEST(Hex, DecodesWhatItEncodesAndNothingElse) {
  std::string bytes("\x00\x01\x7f\x80\xfe\xff", 6);
  EXPECT_EQ(mkimg::oci::hex_encode(bytes), "00017f80feff");
  EXPECT_EQ(mkimg::oci::hex_decode("00017f80feff"), bytes);
  EXPECT_EQ(mkimg::oci::hex_decode(""), std::string());
  for (std::string_view bad : {"0", "0g", "0A", "0 ", "00-1"}) {
    EXPECT_FALSE(mkimg::oci::hex_decode(bad)) << bad;
    EXPECT_EQ(mkimg::oci::is_lower_hex(bad), bad == "0") << bad;
  }
}

// A state written down at a 64-byte boundary and taken up by another hasher goes on to the
// digest of the whole input, also across more than 2^32 bits (the length's two halves).
TEST(ResumableSha256, GoesOnFromAWrittenDownState) {
  using mkimg::oci::ResumableSha256;
  std::string data(300000, 'x');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 13 + i / 7);
  ResumableSha256 first;
  first.update(data.data(), 100);
  EXPECT_EQ(first.mid_state(), "");  // not at a block boundary
  first.update(data.data() + 100, 128000 - 100);
  std::string state = first.mid_state();
  ASSERT_TRUE(ResumableSha256::is_mid_state(state)) << state;

  ResumableSha256 second;
  second.update("something else", 14);
  EXPECT_FALSE(second.resume(state, 128001));  // not a multiple of 64: nothing changes
  EXPECT_FALSE(second.resume(state.substr(1), 128000));
  EXPECT_FALSE(second.resume(std::string(64, 'G'), 128000));
  ASSERT_TRUE(second.resume(state, 128000));
  second.update(data.data() + 128000, data.size() - 128000);
  EXPECT_EQ(second.finish(), mkimg::oci::sha256_of(data));

  // The state after 2^29 bytes of zeros (2^32 bits), made by hashing them, taken up again.
  std::string zeros(std::size_t{1} << 24, '\0');
  ResumableSha256 big;
  for (int i = 0; i < 32; ++i) big.update(zeros.data(), zeros.size());
  std::string after = big.mid_state();
  big.update("tail", 4);
  ResumableSha256 resumed;
  ASSERT_TRUE(resumed.resume(after, uint64_t{1} << 29));
  resumed.update("tail", 4);
  EXPECT_EQ(resumed.finish(), big.finish());
}

TEST(Digest, OrdersAndHashes) {
  Digest a = mkimg::oci::sha256_of("a"), b = mkimg::oci::sha256_of("b");
  EXPECT_NE(a, b);
  EXPECT_EQ(a, Digest::parse(a.str()));
  EXPECT_EQ(std::hash<Digest>{}(a), std::hash<Digest>{}(Digest::parse(a.str())));
  EXPECT_TRUE(Digest().empty());
}
