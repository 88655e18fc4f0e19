// The root file system of one step: an overlay of the parent's unpacked layers (read-only
// lower directories, topmost first) and a fresh upper directory that collects the step's
// changes. Unmounted (lazily if busy) when the object dies, even on an exception.
#pragma once

#include <filesystem>
#include <vector>

namespace mkimg::builder {

/// An overlay mount at `merged`; owns the mount, not the directories.
class OverlayMount {
 public:
  /// Mounts lowers (topmost first; empty = one empty directory `empty_lower`) + upper/work
  /// at merged. Throws mkimg::Error when the mount fails.
  OverlayMount(const std::vector<std::filesystem::path>& lowers,
               const std::filesystem::path& empty_lower, const std::filesystem::path& upper,
               const std::filesystem::path& work, const std::filesystem::path& merged);
  OverlayMount(const OverlayMount&) = delete;
  OverlayMount& operator=(const OverlayMount&) = delete;
  ~OverlayMount();

  const std::filesystem::path& merged() const { return merged_; }
  /// Unmounts now (throws on failure); the destructor then does nothing.
  void unmount();

 private:
  std::filesystem::path merged_;
  bool mounted_ = false;
};

}  // namespace mkimg::builder
