#include "common/user_namespace.h"

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <sstream>
#include <vector>

#include "common/error.h"

namespace mkimg {
namespace {

struct IdLine {
  unsigned long inside = 0, outside = 0, count = 0;
};

std::vector<IdLine> read_map(std::string_view which) {
  std::ifstream in("/proc/self/" + std::string(which) + "_map");
  std::vector<IdLine> lines;
  IdLine l;
  while (in >> l.inside >> l.outside >> l.count) lines.push_back(l);
  return lines;
}

}  // namespace

bool in_user_namespace() {
  static const bool inside = [] {
    auto lines = read_map("uid");
    return !(lines.size() == 1 && lines[0].inside == 0 && lines[0].outside == 0 &&
             lines[0].count == 4294967295UL);
  }();
  return inside;
}

std::string overlay_xattr(std::string_view name) {
  return (in_user_namespace() ? "user.overlay." : "trusted.overlay.") + std::string(name);
}

std::string mapped_ids(std::string_view which) {
  std::ostringstream out;
  auto lines = read_map(which);
  std::sort(lines.begin(), lines.end(),
            [](const IdLine& a, const IdLine& b) { return a.inside < b.inside; });
  for (std::size_t i = 0; i < lines.size();) {
    unsigned long first = lines[i].inside, end = first + lines[i].count;
    while (++i < lines.size() && lines[i].inside == end) end += lines[i].count;
    if (out.tellp() > 0) out << ", ";
    out << first << "-" << end - 1;
  }
  return out.str();
}

Error chown_error(std::string_view path, uid_t uid, gid_t gid) {
  int err = errno;
  if (err != EINVAL || !in_user_namespace()) return sys_error("chown", path, err);
  return Error(describe("chown", path,
                        "uid " + std::to_string(uid) + " or gid " + std::to_string(gid) +
                            " is not mapped in this user namespace (uids " + mapped_ids("uid") +
                            ", gids " + mapped_ids("gid") +
                            "): give the user a larger range in /etc/subuid and /etc/subgid, "
                            "e.g. `usermod --add-subuids 100000-165535 --add-subgids "
                            "100000-165535 USER`"));
}

}  // namespace mkimg
