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

// Go's time.Duration.String(), as BuildKit's HEALTHCHECK history entry prints durations.
TEST(Duration, FormattedAsGoPrintsThem) {
  EXPECT_EQ(format_go_duration(0s), "0s");
  EXPECT_EQ(format_go_duration(30s), "30s");
  EXPECT_EQ(format_go_duration(90s), "1m30s");
  EXPECT_EQ(format_go_duration(1h), "1h0m0s");
  EXPECT_EQ(format_go_duration(1500ms), "1.5s");
  EXPECT_EQ(format_go_duration(500ms), "500ms");
  EXPECT_EQ(format_go_duration(1500us), "1.5ms");
  EXPECT_EQ(format_go_duration(1500ns), "1.5\xc2\xb5s");
  EXPECT_EQ(format_go_duration(7ns), "7ns");
  EXPECT_EQ(format_go_duration(-2s), "-2s");
  EXPECT_EQ(format_go_duration(26h + 3min + 4s + 5ms), "26h3m4.005s");
  EXPECT_EQ(format_go_duration(parse_go_duration("1m30.25s")), "1m30.25s");
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
