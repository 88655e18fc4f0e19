// Helpers of the oci integration tests: a busybox root, mkimg's JSON outputs, and a check that
// every blob in a store matches its name.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "oci/digest.h"
#include "tests/support/harness.h"

namespace mkimg::testing {

/// The tree scripts/make-busybox-root.sh DIR lays out, made in-process: the script forks once
/// per applet, which takes half a minute on a loaded machine.
inline void make_busybox_root(const fs::path& dir) {
  ASSERT_TRUE(fs::exists("/bin/busybox")) << "apt-get install busybox-static";
  for (const char* d : {"bin", "etc", "tmp", "root", "home/app", "var", "usr/bin", "usr/sbin",
                        "sbin", "proc", "sys", "dev"}) {
    fs::create_directories(dir / d);
  }
  fs::permissions(dir / "tmp", static_cast<fs::perms>(01777));
  fs::permissions(dir / "root", fs::perms::owner_all);
  fs::copy_file("/bin/busybox", dir / "bin/busybox");
  auto applets = run({"/bin/busybox", "--list-full"});
  ASSERT_EQ(applets.exit_code, 0);
  std::istringstream lines(applets.out);
  for (std::string applet; std::getline(lines, applet);) {
    if (applet.empty() || applet == "bin/busybox") continue;
    fs::create_directories((dir / applet).parent_path());
    fs::remove(dir / applet);
    fs::create_symlink("/bin/busybox", dir / applet);
  }
  write_file(dir / "etc/passwd",
             "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
             "bin:x:2:2:bin:/bin:/bin/false\nnobody:x:65534:65534:nobody:/home:/bin/false\n"
             "app:x:1000:1000:app:/home/app:/bin/sh\n");
  write_file(dir / "etc/group",
             "root:x:0:\ndaemon:x:1:\nbin:x:2:\nusers:x:100:app\nnogroup:x:65534:\napp:x:1000:\n");
  ASSERT_EQ(::chown((dir / "home/app").c_str(), 1000, 1000), 0);
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    struct timespec times[2] = {{0, 0}, {0, 0}};
    ::utimensat(AT_FDCWD, e.path().c_str(), times, AT_SYMLINK_NOFOLLOW);
  }
  struct timespec times[2] = {{0, 0}, {0, 0}};
  ::utimensat(AT_FDCWD, dir.c_str(), times, AT_SYMLINK_NOFOLLOW);
}

/// The blobs under <root>/oci/blobs/sha256 whose content does not hash to their name.
inline std::vector<std::string> corrupt_blobs(const fs::path& root) {
  std::vector<std::string> bad;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root / "oci/blobs/sha256", ec)) {
    std::string name = e.path().filename().string();
    if (oci::sha256_of(read_file(e.path())).encoded() != name) bad.push_back(name);
  }
  return bad;
}

/// `mkimg images --format json`, parsed; fails the test when the command fails.
inline nlohmann::json images_json(const fs::path& root) {
  auto r = run_mkimg(root, {"images", "--format", "json"});
  EXPECT_EQ(r.exit_code, 0) << r.all();
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_TRUE(j.is_array()) << r.out;
  return j.is_array() ? j : nlohmann::json::array();
}

/// "repository:tag" of every listed image.
inline std::vector<std::string> image_names(const fs::path& root) {
  std::vector<std::string> names;
  for (const auto& i : images_json(root)) {
    names.push_back(i["repository"].get<std::string>() + ":" + i["tag"].get<std::string>());
  }
  return names;
}

/// The manifest digest `mkimg` printed (last line of stdout).
inline std::string last_line(const std::string& out) {
  std::string s = out;
  while (!s.empty() && s.back() == '\n') s.pop_back();
  auto nl = s.rfind('\n');
  return nl == std::string::npos ? s : s.substr(nl + 1);
}

/// A sorted listing of a tree: path, type, mode, owner, size, link target (no times).
inline std::string tree_listing(const fs::path& dir) {
  auto r = run(
      {"sh", "-c",
       "cd '" + dir.string() + "' && find . -printf '%p %y %m %U:%G %s %l\\n' | LC_ALL=C sort"});
  return r.out;
}

}  // namespace mkimg::testing
