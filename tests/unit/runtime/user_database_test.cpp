#include "runtime/user_database.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace mkimg::runtime {
namespace {

const char* kPasswd =
    "root:x:0:0:root:/root:/bin/sh\n"
    "# comment\n"
    "broken line\n"
    "app:x:1000:1001:app:/home/app:/bin/sh\n"
    "bad:x:notanumber:1:x:/:/bin/sh\n";
const char* kGroup =
    "root:x:0:\n"
    "appgroup:x:1001:\n"
    "users:x:100:app,other\n"
    "wheel:x:10:app\n";

UserDatabase db() { return {parse_passwd(kPasswd), parse_group(kGroup)}; }

TEST(UserDatabase, SkipsCommentsAndMalformedLines) {
  auto users = parse_passwd(kPasswd);
  ASSERT_EQ(users.size(), 2u);
  EXPECT_EQ(users[1].name, "app");
  EXPECT_EQ(users[1].uid, 1000u);
  EXPECT_EQ(users[1].gid, 1001u);
  EXPECT_EQ(users[1].home, "/home/app");
}

TEST(UserDatabase, GroupMembersAreSplitOnCommas) {
  auto groups = parse_group(kGroup);
  ASSERT_EQ(groups.size(), 4u);
  EXPECT_EQ(groups[2].members, (std::vector<std::string>{"app", "other"}));
}

TEST(UserDatabase, NameResolvesToPrimaryGroupAndSupplementaryGroups) {
  auto r = resolve_user(db(), "app", DefaultGroup::kPrimaryGroup);
  EXPECT_EQ(r.uid, 1000u);
  EXPECT_EQ(r.gid, 1001u);
  EXPECT_EQ(r.additional_gids, (std::vector<gid_t>{100, 10}));
}

TEST(UserDatabase, UnknownNumericUidGetsGroupZero) {
  auto r = resolve_user(db(), "4242", DefaultGroup::kPrimaryGroup);
  EXPECT_EQ(r.uid, 4242u);
  EXPECT_EQ(r.gid, 0u);
}

TEST(UserDatabase, ChownWithoutGroupUsesTheUidAsGid) {
  auto r = resolve_user(db(), "app", DefaultGroup::kSameAsUid);
  EXPECT_EQ(r.gid, 1000u);
}

TEST(UserDatabase, ExplicitGroupByNameOrNumber) {
  EXPECT_EQ(resolve_user(db(), "app:users", DefaultGroup::kPrimaryGroup).gid, 100u);
  EXPECT_EQ(resolve_user(db(), "1000:55", DefaultGroup::kPrimaryGroup).gid, 55u);
}

TEST(UserDatabase, UnknownNamesAreErrorsNamingThem) {
  try {
    resolve_user(db(), "nobody-here", DefaultGroup::kPrimaryGroup);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nobody-here"), std::string::npos);
  }
  EXPECT_THROW(resolve_user(db(), "app:nogroup", DefaultGroup::kPrimaryGroup), Error);
  EXPECT_THROW(resolve_user(db(), "", DefaultGroup::kPrimaryGroup), Error);
}

}  // namespace
}  // namespace mkimg::runtime
