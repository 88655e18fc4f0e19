#include "builder/overlay_mount.h"

#include <spdlog/spdlog.h>
#include <sys/mount.h>

#include "common/error.h"

namespace mkimg::builder {
namespace {

// Overlay's option string is one page; escape the characters overlay treats specially.
std::string escape(const std::string& path) {
  std::string out;
  for (char c : path) {
    if (c == ':' || c == ',' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

}  // namespace

OverlayMount::OverlayMount(const std::vector<std::filesystem::path>& lowers,
                           const std::filesystem::path& empty_lower,
                           const std::filesystem::path& upper, const std::filesystem::path& work,
                           const std::filesystem::path& merged)
    : merged_(merged) {
  std::string lowerdir;
  for (const auto& l : lowers) {
    if (!lowerdir.empty()) lowerdir += ':';
    lowerdir += escape(l.string());
  }
  if (lowerdir.empty()) lowerdir = escape(empty_lower.string());
  std::string options = "lowerdir=" + lowerdir + ",upperdir=" + escape(upper.string()) +
                        ",workdir=" + escape(work.string());
  if (options.size() >= 4000) {
    throw Error(describe("mount overlay", merged.string(), "too many layers for one mount"));
  }
  spdlog::debug("overlay mount {}: {}", merged.string(), options);
  if (::mount("overlay", merged.c_str(), "overlay", 0, options.c_str()) != 0) {
    throw sys_error("mount overlay", merged.string());
  }
  mounted_ = true;
}

OverlayMount::~OverlayMount() {
  if (mounted_ && ::umount2(merged_.c_str(), 0) != 0) ::umount2(merged_.c_str(), MNT_DETACH);
}

void OverlayMount::unmount() {
  if (!mounted_) return;
  if (::umount2(merged_.c_str(), 0) != 0) throw sys_error("unmount", merged_.string());
  mounted_ = false;
}

}  // namespace mkimg::builder
