// Hostile layers, modelled on containerd's archive breakout tests and moby's untar tests: each
// either applies inside the root or fails with a clean mkimg::Error, in both apply modes, and
// a sentinel directory beside the root is untouched every time.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include <functional>

#include "common/error.h"
#include "snapshot/apply.h"
#include "tests/support/harness.h"
#include "tests/support/tar_builder.h"
#include "tests/support/tree_listing.h"

namespace mkimg::snapshot {
namespace {

using mkimg::testing::TempDir;
using namespace testing;  // NOLINT: the tar builder's vocabulary
using Type = TarEntry::Type;

/// Where a case runs: the root it applies to and the sentinel beside it.
struct Paths {
  fs::path root, sentinel;
};

enum class Expect { kApplies, kFails, kEither };

/// One hostile layer: its entries (given the paths), what must happen, and extra checks.
struct HostileCase {
  std::string name;
  std::function<std::vector<TarEntry>(const Paths&)> entries;
  Expect expect = Expect::kEither;
  std::function<void(const Paths&, ApplyMode)> check = nullptr;
  ApplyLimits limits = {};
  std::function<std::string(const std::string&)> encode = nullptr;  ///< tar -> blob bytes
};

TarEntry with(TarEntry e, std::function<void(TarEntry&)> f) {
  f(e);
  return e;
}

std::string abs(const fs::path& p) { return p.string(); }

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  ::lstat(p.c_str(), &st);
  return st.st_mode;
}

std::vector<HostileCase> cases() {
  return {
      {"dotdot file", [](auto&) { return std::vector{file("../escape")}; }, Expect::kFails},
      {"slash dotdot file", [](auto&) { return std::vector{file("/../escape")}; }, Expect::kFails},
      {"bare dotdot", [](auto&) { return std::vector{dir("..")}; }, Expect::kFails},
      {"inner dotdot", [](auto&) { return std::vector{file("a/../../escape")}; }, Expect::kFails},
      {"dotdot into sibling prefix", [](auto&) { return std::vector{file("../root-evil/x")}; },
       Expect::kFails},
      {"dot segments are fine", [](auto&) { return std::vector{file("./././ok")}; },
       Expect::kApplies, [](const Paths& p, ApplyMode) { EXPECT_TRUE(fs::exists(p.root / "ok")); }},
      {"dot entry does not change the root",
       [](auto&) {
         return std::vector{dir(".", 0777), dir("./", 0700)};
       },
       Expect::kApplies,
       [](const Paths& p, ApplyMode) { EXPECT_EQ(mode_of(p.root) & 07777, 0755u); }},
      {"slash entry does not change the root",
       [](auto&) { return std::vector{with(dir("/", 0777), [](TarEntry& e) { e.uid = 1234; })}; },
       Expect::kApplies,
       [](const Paths& p, ApplyMode) { EXPECT_EQ(mode_of(p.root) & 07777, 0755u); }},
      {"symlink to dotdot then write through it",
       [](auto&) {
         return std::vector{symlink("up", ".."), file("up/escape")};
       },
       Expect::kEither,
       [](const Paths& p, ApplyMode) {
         EXPECT_FALSE(fs::exists(p.root.parent_path() / "escape"));
       }},
      {"symlink to slash then write through it",
       [](auto&) {
         return std::vector{symlink("rootlink", "/"), file("rootlink/escape")};
       },
       Expect::kApplies,
       [](const Paths& p, ApplyMode) { EXPECT_TRUE(fs::exists(p.root / "escape")); }},
      {"absolute symlink to the sentinel then write through it",
       [](const Paths& p) {
         return std::vector{symlink("s", abs(p.sentinel)), file("s/pwned")};
       }},
      {"relative symlink to the sentinel then write through it",
       [](auto&) {
         return std::vector{symlink("s", "../sentinel"), file("s/pwned")};
       }},
      {"symlink chain a -> .., a/b -> ../sentinel",
       [](auto&) {
         return std::vector{symlink("a", ".."), symlink("a/b", "../sentinel"), file("a/b/pwned")};
       }},
      {"dir -> / then etc/passwd through it",
       [](auto&) {
         return std::vector{symlink("dir", "/"), file("dir/etc/passwd", "root::0")};
       },
       Expect::kApplies,
       [](const Paths& p, ApplyMode) { EXPECT_TRUE(fs::exists(p.root / "etc/passwd")); }},
      {"hardlink with dotdot target",
       [](auto&) { return std::vector{hardlink("h", "../sentinel/file")}; }, Expect::kFails},
      {"hardlink with absolute target outside",
       [](const Paths& p) { return std::vector{hardlink("h", abs(p.sentinel / "file"))}; },
       Expect::kFails},
      {"hardlink through a symlinked parent",
       [](const Paths& p) {
         return std::vector{symlink("s", abs(p.sentinel)), hardlink("h", "s/file")};
       },
       Expect::kFails},
      {"hardlink to a symlink pointing out, then chmod through it",
       [](const Paths& p) {
         return std::vector{symlink("s", abs(p.sentinel / "file")),
                            with(hardlink("h", "s"), [](TarEntry& e) { e.perm = 0777; })};
       },
       Expect::kApplies,
       [](const Paths& p, ApplyMode) { EXPECT_TRUE(S_ISLNK(mode_of(p.root / "h"))); }},
      {"absolute hardlink target inside the root is fine",
       [](auto&) {
         return std::vector{file("f", "data"), hardlink("h", "/f")};
       },
       Expect::kApplies,
       [](const Paths& p, ApplyMode) { EXPECT_EQ(read_bytes(p.root / "h"), "data"); }},
      {"hardlink to a missing entry", [](auto&) { return std::vector{hardlink("h", "nope")}; },
       Expect::kFails},
      {"hardlink to a directory",
       [](auto&) {
         return std::vector{dir("d"), hardlink("h", "d")};
       },
       Expect::kFails},
      {"whiteout .wh.", [](auto&) { return std::vector{file(".wh.")}; }, Expect::kFails},
      {"whiteout .wh..", [](auto&) { return std::vector{file(".wh..")}; }, Expect::kFails},
      {"whiteout .wh...", [](auto&) { return std::vector{file(".wh...")}; }, Expect::kFails},
      {"whiteout through an absolute symlinked parent",
       [](const Paths& p) {
         return std::vector{symlink("s", abs(p.sentinel)), file("s/.wh.file")};
       }},
      {"whiteout through a relative symlinked parent",
       [](auto&) {
         return std::vector{symlink("s", "../sentinel"), file("s/.wh.file")};
       }},
      {"opaque marker through a symlinked parent",
       [](const Paths& p) {
         return std::vector{symlink("s", abs(p.sentinel)), file("s/.wh..wh..opq")};
       }},
      {"duplicate entries: file, dir, file",
       [](auto&) {
         return std::vector{file("a"), dir("a"), file("a/in"), file("a", "last")};
       },
       Expect::kApplies,
       [](const Paths& p, ApplyMode) { EXPECT_EQ(read_bytes(p.root / "a"), "last"); }},
      {"directory replaced by a symlink out, then written through",
       [](const Paths& p) {
         return std::vector{dir("a"), file("a/f"), symlink("a", abs(p.sentinel)), file("a/f2")};
       }},
      {"file replacing a symlink to the sentinel file",
       [](const Paths& p) {
         return std::vector{symlink("f", abs(p.sentinel / "file")), file("f", "mine", 0777)};
       },
       Expect::kApplies,
       [](const Paths& p, ApplyMode) { EXPECT_EQ(read_bytes(p.root / "f"), "mine"); }},
      {"huge path in a PAX header",
       [](auto&) { return std::vector{file(std::string(2 << 20, 'a'))}; }, Expect::kFails},
      {"huge xattr in a PAX header",
       [](auto&) {
         return std::vector{with(file("f"), [](TarEntry& e) {
           e.xattrs = {{"user.big", std::string(2 << 20, 'x')}};
         })};
       },
       Expect::kFails},
      {"long symlink target",
       [](auto&) { return std::vector{symlink("l", std::string(5000, 'a'))}; }, Expect::kFails},
      {"device node 1/3",
       [](auto&) {
         return std::vector{with(TarEntry{"null", Type::kChr},
                                 [](TarEntry& e) { e.major = 1, e.minor = 3, e.perm = 0666; })};
       },
       Expect::kApplies,
       [](const Paths& p, ApplyMode) { EXPECT_TRUE(S_ISCHR(mode_of(p.root / "null"))); }},
      {"device number that does not fit",
       [](auto&) {
         return std::vector{
             with(TarEntry{"dev", Type::kBlk}, [](TarEntry& e) { e.major = 70000; })};
       },
       Expect::kFails},
      {"fifo",
       [](auto&) {
         return std::vector{TarEntry{"fifo", Type::kFifo}};
       },
       Expect::kApplies,
       [](const Paths& p, ApplyMode) { EXPECT_TRUE(S_ISFIFO(mode_of(p.root / "fifo"))); }},
      {"setuid file owned by a user keeps its bits",
       [](auto&) {
         return std::vector{
             with(file("suid", "x", 06755), [](TarEntry& e) { e.uid = e.gid = 1000; })};
       },
       Expect::kApplies,
       [](const Paths& p, ApplyMode) {
         EXPECT_EQ(mode_of(p.root / "suid") & 07777, 06755u);
         struct stat st {};
         ::lstat((p.root / "suid").c_str(), &st);
         EXPECT_EQ(st.st_uid, 1000u);
       }},
      {"xattrs: capability kept, overlay (trusted. and user.) and selinux dropped",
       [](auto&) {
         return std::vector{
             with(dir("d"),
                  [](TarEntry& e) {
                    e.xattrs = {{"trusted.overlay.opaque", "y"}, {"user.overlay.opaque", "y"}};
                  }),
             with(file("f"), [](TarEntry& e) {
               e.xattrs = {{"security.capability",
                            std::string("\x01\0\0\x02\0\x20\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 20)},
                           {"security.selinux", "system_u:object_r:shadow_t:s0"},
                           {"trusted.overlay.redirect", "/etc"},
                           {"user.overlay.redirect", "/etc"},
                           {"user.note", "kept"}};
             })};
       },
       Expect::kApplies,
       [](const Paths& p, ApplyMode) {
         EXPECT_EQ(xattr_listing(p.root / "d"), "");
         std::string f = xattr_listing(p.root / "f");
         EXPECT_NE(f.find("security.capability"), std::string::npos) << f;
         EXPECT_EQ(f.find("overlay"), std::string::npos) << f;
         EXPECT_NE(f.find("user.note"), std::string::npos) << f;
         EXPECT_EQ(f.find("shadow_t"), std::string::npos) << f;
       }},
      {"uid out of range",
       [](auto&) {
         return std::vector{with(file("f"), [](TarEntry& e) { e.uid = int64_t{1} << 40; })};
       },
       Expect::kFails},
      {"parent is a file",
       [](auto&) {
         return std::vector{file("a"), file("a/b")};
       },
       Expect::kFails},
      {"directory without permissions still gets its contents",
       [](auto&) {
         return std::vector{dir("d", 0), file("d/f")};
       },
       Expect::kApplies,
       [](const Paths& p, ApplyMode) { EXPECT_TRUE(fs::exists(p.root / "d/f")); }},
      {"too many entries",
       [](auto&) {
         std::vector<TarEntry> v;
         for (int i = 0; i < 20; ++i) v.push_back(file("f" + std::to_string(i)));
         return v;
       },
       Expect::kFails, nullptr, ApplyLimits{.max_entries = 10}},
      {"more bytes than allowed",
       [](auto&) { return std::vector{file("big", std::string(1 << 20, 'x'))}; }, Expect::kFails,
       nullptr, ApplyLimits{.max_total_bytes = 100000}},
      {"decompression bomb",
       [](auto&) { return std::vector{file("zeros", std::string(8 << 20, '\0'))}; }, Expect::kFails,
       nullptr, ApplyLimits{.ratio_grace_bytes = 1 << 20, .max_ratio = 100},
       [](const std::string& tar) { return gzip(tar); }},
      {"truncated gzip",
       [](auto&) { return std::vector{file("f", std::string(100000, 'q'))}; },
       Expect::kFails,
       nullptr,
       {},
       [](const std::string& tar) {
         std::string z = gzip(tar);
         return z.substr(0, z.size() / 2);
       }},
      {"not a tar at all",
       [](auto&) { return std::vector<TarEntry>{}; },
       Expect::kFails,
       nullptr,
       {},
       [](const std::string&) { return std::string(2000, '\x7f'); }},
      {"corrupt zstd",
       [](auto&) { return std::vector<TarEntry>{}; },
       Expect::kFails,
       nullptr,
       {},
       [](const std::string&) { return std::string("\x28\xb5\x2f\xfd garbage garbage", 21); }},
  };
}

/// The sentinel's files, modes and contents.
std::string sentinel_state(const Paths& p) { return list_tree(p.sentinel); }

void run_case(const HostileCase& c, ApplyMode mode) {
  SCOPED_TRACE(c.name + (mode == ApplyMode::kFlatten ? " (flatten)" : " (overlay_lower)"));
  mkimg::testing::TempDir tmp, blobs;
  Paths p{tmp / "root", tmp / "sentinel"};
  fs::create_directories(p.root);
  fs::create_directories(p.sentinel / "sub");
  ::chmod(p.root.c_str(), 0755);
  write_bytes(p.sentinel / "file", "precious");
  write_bytes(p.sentinel / "sub/inner", "also precious");
  std::string before = sentinel_state(p);
  std::string tar = make_tar(c.entries(p));
  write_bytes(blobs / "layer", c.encode ? c.encode(tar) : tar);
  bool applied = false;
  try {
    apply_layer(blobs / "layer", p.root, mode, c.limits);
    applied = true;
  } catch (const Error& e) {
    std::string what = e.what(), blob = (blobs / "layer").string();
    EXPECT_NE(what.find("apply layer"), std::string::npos) << what;
    EXPECT_EQ(what.find(blob), what.rfind(blob)) << "the layer named twice: " << what;
  }
  if (c.expect == Expect::kApplies) {
    EXPECT_TRUE(applied);
  }
  if (c.expect == Expect::kFails) {
    EXPECT_FALSE(applied);
  }
  EXPECT_EQ(sentinel_state(p), before);
  std::vector<std::string> siblings;
  for (auto& e : fs::directory_iterator(tmp.path())) siblings.push_back(e.path().filename());
  std::sort(siblings.begin(), siblings.end());
  EXPECT_EQ(siblings, (std::vector<std::string>{"root", "sentinel"}));
  if (applied && c.check) c.check(p, mode);
}

TEST(ApplyHostile, EveryCaseStaysInsideTheRootOrFailsCleanly) {
  auto all = cases();
  EXPECT_GE(all.size(), 30u);
  for (const HostileCase& c : all) {
    run_case(c, ApplyMode::kFlatten);
    run_case(c, ApplyMode::kOverlayLower);
  }
}

// An apply asks keep_going before each 256 KiB it reads: a layer of 4 MiB stops at the first
// "no" with "interrupted" (in both modes), and goes to the end when it is never said.
TEST(ApplyHostile, AnApplyStopsWhenItsKeepGoingSaysNo) {
  std::vector<TarEntry> entries;
  for (int i = 0; i < 16; ++i)
    entries.push_back(file("f" + std::to_string(i), std::string(256 << 10, 'x')));
  TempDir tmp;
  fs::path blob = tmp.path() / "layer.tar.gz";
  write_bytes(blob, gzip(make_tar(entries)));
  for (ApplyMode mode : {ApplyMode::kFlatten, ApplyMode::kOverlayLower}) {
    fs::path root = tmp.path() / ("root" + std::to_string(static_cast<int>(mode)));
    fs::create_directories(root);
    int asked = 0;
    ApplyLimits limits;
    limits.keep_going = [&asked] { return ++asked < 4; };
    try {
      apply_layer(blob, root, mode, limits);
      FAIL() << "applied to the end";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("interrupted"), std::string::npos) << e.what();
    }
    EXPECT_EQ(asked, 4);
    fs::path whole = tmp.path() / ("whole" + std::to_string(static_cast<int>(mode)));
    fs::create_directories(whole);
    limits.keep_going = [] { return true; };
    EXPECT_EQ(apply_layer(blob, whole, mode, limits).entries, 16);
  }
}

}  // namespace
}  // namespace mkimg::snapshot
