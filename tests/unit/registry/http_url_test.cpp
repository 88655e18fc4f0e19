// URL helpers behind the "credentials stay with their host" rule.
#include <gtest/gtest.h>

#include "common/error.h"
#include "registry/http_client.h"

namespace mkimg::registry {
namespace {

TEST(HttpUrl, OriginIncludesSchemeHostAndDefaultPort) {
  EXPECT_EQ(url_origin("https://Reg.Example.com/v2/"), "https://reg.example.com:443");
  EXPECT_EQ(url_origin("http://127.0.0.1:5000/v2/x"), "http://127.0.0.1:5000");
  EXPECT_NE(url_origin("http://127.0.0.1:5000/"), url_origin("http://localhost:5000/"));
  EXPECT_NE(url_origin("https://a.io/"), url_origin("http://a.io/"));
}

TEST(HttpUrl, OnlyHttpAndHttpsAreAccepted) {
  EXPECT_THROW(url_origin("file:///etc/passwd"), Error);
  EXPECT_THROW(url_origin("ftp://x/"), Error);
  EXPECT_THROW(resolve_url("https://a.io/v2/", "file:///etc/passwd"), Error);
}

TEST(HttpUrl, RelativeLocationResolvesAgainstTheRequest) {
  EXPECT_EQ(resolve_url("https://a.io/v2/x/blobs/uploads/", "/v2/x/blobs/uploads/123?_state=s"),
            "https://a.io/v2/x/blobs/uploads/123?_state=s");
  EXPECT_EQ(resolve_url("https://a.io/v2/", "https://cdn.b.io/blob"), "https://cdn.b.io/blob");
}

TEST(HttpUrl, HostStripsPortAndBrackets) {
  EXPECT_EQ(url_host("http://[::1]:5000/token"), "::1");
  EXPECT_EQ(url_host("https://Auth.Example.com/token"), "auth.example.com");
}

TEST(HttpStatus, RetryableStatuses) {
  EXPECT_TRUE(is_retryable_status(429));
  EXPECT_TRUE(is_retryable_status(503));
  EXPECT_FALSE(is_retryable_status(404));
  EXPECT_FALSE(is_retryable_status(401));
}

TEST(HttpDate, TheThreeFormsOfLastModifiedParse) {
  EXPECT_EQ(parse_http_date("Sun, 13 Sep 2020 12:26:40 GMT"), 1600000000);
  EXPECT_EQ(parse_http_date("Sunday, 13-Sep-20 12:26:40 GMT"), 1600000000);
  EXPECT_EQ(parse_http_date("Sun Sep 13 12:26:40 2020"), 1600000000);
  EXPECT_EQ(parse_http_date("not a date"), std::nullopt);
}

}  // namespace
}  // namespace mkimg::registry
