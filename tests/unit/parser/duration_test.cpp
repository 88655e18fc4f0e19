// Durations: Go's (HEALTHCHECK) and the same with days (`mkimg cache prune --older-than`).
#include "parser/duration.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace mkimg::parser {
namespace {

using namespace std::chrono_literals;

TEST(Duration, GoDurationsAsGoParsesThem) {
  EXPECT_EQ(parse_go_duration("1m30s"), 90s);
  EXPECT_EQ(parse_go_duration("1.5h"), 90min);
  EXPECT_EQ(parse_go_duration("300ms"), 300ms);
  EXPECT_EQ(parse_go_duration("0"), 0s);
  // Go has no days: neither has HEALTHCHECK.
  EXPECT_THROW(parse_go_duration("1d"), Error);
}

TEST(Duration, AnAgeMayCountDays) {
  EXPECT_EQ(parse_age("7d"), 7 * 24h);
  EXPECT_EQ(parse_age("1d12h"), 36h);
  EXPECT_EQ(parse_age("24h"), 24h);
  EXPECT_EQ(parse_age("90m"), 90min);
  EXPECT_EQ(parse_age("0"), 0s);
  try {
    parse_age("3x");
    FAIL() << "3x parsed";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "time: unknown unit \"x\" in duration \"3x\"");
  }
  EXPECT_THROW(parse_age("d"), Error);
  EXPECT_THROW(parse_age(""), Error);
}

}  // namespace
}  // namespace mkimg::parser
