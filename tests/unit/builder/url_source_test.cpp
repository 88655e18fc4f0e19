// ADD's URL rules: which sources are URLs or git, the downloaded file's name, --checksum.
#include "builder/copy/url_source.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace mkimg::builder {
namespace {

TEST(UrlSource, HttpAndHttpsAreUrlsGitRepositoriesAreNot) {
  EXPECT_TRUE(is_url_source("http://example.com/a.txt"));
  EXPECT_TRUE(is_url_source("https://example.com/a.tar.gz?x=1"));
  EXPECT_FALSE(is_url_source("a.txt"));
  EXPECT_FALSE(is_url_source("ftp://example.com/a"));
  EXPECT_FALSE(is_url_source("https://github.com/moby/buildkit.git"));
  EXPECT_TRUE(is_git_source("https://github.com/moby/buildkit.git#v0.8.0"));
  EXPECT_TRUE(is_git_source("git@github.com:moby/buildkit.git"));
  EXPECT_TRUE(is_git_source("git://example.com/r"));
  EXPECT_FALSE(is_git_source("https://example.com/file.git.txt"));
}

TEST(UrlSource, FileNameIsTheLastDecodedPathComponent) {
  EXPECT_EQ(url_file_name("https://example.com/dir/file.txt"), "file.txt");
  EXPECT_EQ(url_file_name("https://example.com/dir/file.txt?v=2#frag"), "file.txt");
  EXPECT_EQ(url_file_name("https://example.com/dir/sub/"), "sub");  // Go's path.Base
  EXPECT_EQ(url_file_name("https://example.com/a%20b.txt"), "a b.txt");
  EXPECT_EQ(url_file_name("https://example.com/"), "__unnamed__");
  EXPECT_EQ(url_file_name("https://example.com"), "__unnamed__");
  EXPECT_EQ(url_file_name("https://example.com?q=/x"), "__unnamed__");
  EXPECT_EQ(url_file_name("https://example.com/.."), "__unnamed__");
}

TEST(UrlSource, ChecksumIsASha256OrSha512Digest) {
  std::string hex(64, 'a');
  EXPECT_EQ(parse_add_checksum("sha256:" + hex).encoded(), hex);
  EXPECT_THROW(parse_add_checksum("sha256:abc"), Error);
  EXPECT_THROW(parse_add_checksum("md5:" + std::string(32, 'a')), Error);
  EXPECT_THROW(parse_add_checksum(hex), Error);
}

}  // namespace
}  // namespace mkimg::builder
