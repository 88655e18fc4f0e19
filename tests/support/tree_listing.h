// Test helper: a canonical text listing of a tree (type, mode, owner, size, content, link
// target, device, xattrs, hardlink groups and optionally mtime), so two trees compare with
// EXPECT_EQ and a difference reads as a diff.
#pragma once

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace mkimg::snapshot::testing {

namespace fs = std::filesystem;

/// Whether listings include mtimes.
enum class Times { kInclude, kIgnore };

inline std::string xattr_listing(const fs::path& p) {
  char names[4096];
  ssize_t n = ::llistxattr(p.c_str(), names, sizeof names);
  std::vector<std::string> out;
  for (ssize_t i = 0; i < n;) {
    std::string name(names + i);
    i += static_cast<ssize_t>(name.size()) + 1;
    if (name.rfind("trusted.overlay.", 0) == 0 && name != "trusted.overlay.opaque") continue;
    if (name == "security.selinux") continue;
    char value[4096];
    ssize_t len = ::lgetxattr(p.c_str(), name.c_str(), value, sizeof value);
    out.push_back(name + "=" +
                  std::string(value, static_cast<std::size_t>(std::max<ssize_t>(len, 0))));
  }
  std::sort(out.begin(), out.end());
  std::string s;
  for (const auto& x : out) s += " " + x;
  return s;
}

inline std::string list_tree(const fs::path& root, Times times = Times::kInclude) {
  std::vector<std::string> paths;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    paths.push_back(fs::relative(it->path(), root).string());
  }
  std::sort(paths.begin(), paths.end());
  std::map<std::pair<dev_t, ino_t>, std::string> links;
  std::ostringstream out;
  for (const std::string& rel : paths) {
    fs::path p = root / rel;
    struct stat st {};
    ::lstat(p.c_str(), &st);
    out << rel << " mode=" << std::oct << st.st_mode << std::dec << " owner=" << st.st_uid << ":"
        << st.st_gid;
    if (times == Times::kInclude && !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode)) {
      out << " mtime=" << st.st_mtim.tv_sec;
    }
    if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
      auto [it, first] = links.emplace(std::make_pair(st.st_dev, st.st_ino), rel);
      if (!first) out << " link=" << it->second;
    }
    if (S_ISREG(st.st_mode)) {
      std::ifstream in(p, std::ios::binary);
      std::string data((std::istreambuf_iterator<char>(in)), {});
      out << " size=" << data.size() << " hash=" << std::hash<std::string>{}(data);
    }
    if (S_ISLNK(st.st_mode)) out << " -> " << fs::read_symlink(p).string();
    if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
      out << " dev=" << major(st.st_rdev) << "," << minor(st.st_rdev);
    }
    if (!S_ISLNK(st.st_mode)) out << xattr_listing(p);
    out << "\n";
  }
  return out.str();
}

}  // namespace mkimg::snapshot::testing
