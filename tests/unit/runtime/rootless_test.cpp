// The /etc/subuid reader of runtime/rootless.h (entering the namespace is proven for real by
// tests/integration/peers/rootless_test.cpp).
#include "runtime/rootless.h"

#include <gtest/gtest.h>

namespace mkimg::runtime {
namespace {

TEST(SubIdRange, FindsTheUserByNameOrUid) {
  const char* file = "alice:100000:65536\nbob:165536:65536\n1003:231072:10\n";
  auto bob = find_subid_range(file, "bob", 1002);
  ASSERT_TRUE(bob);
  EXPECT_EQ(bob->start, 165536u);
  EXPECT_EQ(bob->count, 65536u);
  auto by_uid = find_subid_range(file, "carol", 1003);
  ASSERT_TRUE(by_uid);
  EXPECT_EQ(by_uid->start, 231072u);
  EXPECT_EQ(by_uid->count, 10u);
  EXPECT_FALSE(find_subid_range(file, "dave", 1004));
  EXPECT_FALSE(find_subid_range("", "alice", 1000));
}

TEST(SubIdRange, SkipsMalformedAndEmptyLinesAndTakesTheFirstGoodOne) {
  const char* file =
      "# comment\n\nalice\nalice:x:10\nalice:100000:\nalice:100000:0\nalice:1:2:3\n"
      "alice:200000:65536\nalice:300000:65536\n";
  auto r = find_subid_range(file, "alice", 1000);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->start, 200000u);
  EXPECT_FALSE(find_subid_range("alic:1:2\nalice2:1:2\n", "alice", 1000));
}

}  // namespace
}  // namespace mkimg::runtime
