#include "runtime/user_database.h"

#include <algorithm>
#include <charconv>

#include "common/error.h"
#include "common/in_root.h"

namespace mkimg::runtime {
namespace {

constexpr std::size_t kMaxFile = 4 << 20;

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    std::size_t pos = s.find(sep, start);
    out.push_back(s.substr(start, pos == std::string_view::npos ? pos : pos - start));
    if (pos == std::string_view::npos) return out;
    start = pos + 1;
  }
}

std::optional<std::uint32_t> parse_id(std::string_view s) {
  std::uint32_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

template <typename F>
void for_each_line(std::string_view text, F f) {
  for (std::string_view line : split(text, '\n')) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    f(line);
  }
}

const PasswdEntry* find_user(const UserDatabase& db, std::string_view name) {
  for (const auto& u : db.users) {
    if (u.name == name) return &u;
  }
  return nullptr;
}

const PasswdEntry* find_uid(const UserDatabase& db, uid_t uid) {
  for (const auto& u : db.users) {
    if (u.uid == uid) return &u;
  }
  return nullptr;
}

gid_t resolve_group(const UserDatabase& db, std::string_view group) {
  if (auto id = parse_id(group)) return *id;
  for (const auto& g : db.groups) {
    if (g.name == group) return g.gid;
  }
  throw Error(describe("resolve group", group, "no matching entry in the image's /etc/group"));
}

std::vector<gid_t> supplementary(const UserDatabase& db, std::string_view name, gid_t primary) {
  std::vector<gid_t> out;
  for (const auto& g : db.groups) {
    bool member = std::find(g.members.begin(), g.members.end(), name) != g.members.end();
    if (member && g.gid != primary && std::find(out.begin(), out.end(), g.gid) == out.end()) {
      out.push_back(g.gid);
    }
  }
  return out;
}

}  // namespace

std::vector<PasswdEntry> parse_passwd(std::string_view text) {
  std::vector<PasswdEntry> out;
  for_each_line(text, [&](std::string_view line) {
    auto f = split(line, ':');
    if (f.size() < 4) return;
    auto uid = parse_id(f[2]);
    auto gid = parse_id(f[3]);
    if (!uid || !gid || f[0].empty()) return;
    out.push_back({std::string(f[0]), *uid, *gid, f.size() > 5 ? std::string(f[5]) : ""});
  });
  return out;
}

std::vector<GroupEntry> parse_group(std::string_view text) {
  std::vector<GroupEntry> out;
  for_each_line(text, [&](std::string_view line) {
    auto f = split(line, ':');
    if (f.size() < 3) return;
    auto gid = parse_id(f[2]);
    if (!gid || f[0].empty()) return;
    GroupEntry g{std::string(f[0]), *gid, {}};
    if (f.size() > 3 && !f[3].empty()) {
      for (auto m : split(f[3], ',')) {
        if (!m.empty()) g.members.emplace_back(m);
      }
    }
    out.push_back(std::move(g));
  });
  return out;
}

UserDatabase read_user_database(int root_fd) {
  UserDatabase db;
  if (auto p = read_file_in_root(root_fd, "/etc/passwd", kMaxFile)) db.users = parse_passwd(*p);
  if (auto g = read_file_in_root(root_fd, "/etc/group", kMaxFile)) db.groups = parse_group(*g);
  return db;
}

ResolvedUser resolve_user(const UserDatabase& db, std::string_view spec, DefaultGroup fallback) {
  std::string_view user = spec, group;
  if (auto colon = spec.find(':'); colon != std::string_view::npos) {
    user = spec.substr(0, colon);
    group = spec.substr(colon + 1);
  }
  if (user.empty()) throw Error(describe("resolve user", spec, "empty user name"));
  ResolvedUser r;
  const PasswdEntry* entry = nullptr;
  if (auto id = parse_id(user)) {
    r.uid = *id;
    entry = find_uid(db, *id);
  } else {
    entry = find_user(db, user);
    if (!entry) {
      throw Error(describe("resolve user", user, "no matching entry in the image's /etc/passwd"));
    }
    r.uid = entry->uid;
  }
  if (!group.empty()) {
    r.gid = resolve_group(db, group);
  } else if (fallback == DefaultGroup::kSameAsUid) {
    r.gid = r.uid;
  } else {
    r.gid = entry ? entry->gid : 0;
  }
  if (entry) r.additional_gids = supplementary(db, entry->name, r.gid);
  return r;
}

}  // namespace mkimg::runtime
