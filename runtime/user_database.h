// The image's own users and groups: /etc/passwd and /etc/group read as files inside the
// root (never through the host's NSS, docs/security.md 13), bounded, and the resolution of a
// USER or --chown spec ("name", "uid", "name:group", "uid:gid") against them.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mkimg::runtime {

/// One line of /etc/passwd.
struct PasswdEntry {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string home;
};

/// One line of /etc/group.
struct GroupEntry {
  std::string name;
  gid_t gid = 0;
  std::vector<std::string> members;
};

/// Both files of one image root; missing files are empty tables.
struct UserDatabase {
  std::vector<PasswdEntry> users;
  std::vector<GroupEntry> groups;
};

/// What a USER instruction becomes for the runtime.
struct ResolvedUser {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> additional_gids;
};

/// How a spec without a group picks its gid: USER uses the user's primary group (0 for an
/// unknown numeric uid); COPY --chown uses the same number as the uid, like Docker.
enum class DefaultGroup { kPrimaryGroup, kSameAsUid };

/// Parses passwd text; malformed lines are skipped.
std::vector<PasswdEntry> parse_passwd(std::string_view text);

/// Parses group text; malformed lines are skipped.
std::vector<GroupEntry> parse_group(std::string_view text);

/// Reads /etc/passwd and /etc/group inside the root directory fd (each at most 4 MiB).
UserDatabase read_user_database(int root_fd);

/// Resolves `spec` ("user[:group]", names or numbers). Throws mkimg::Error naming the
/// user or group that does not exist.
ResolvedUser resolve_user(const UserDatabase& db, std::string_view spec, DefaultGroup fallback);

}  // namespace mkimg::runtime
