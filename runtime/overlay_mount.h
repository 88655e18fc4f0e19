// The root file system of one step: an overlay of the parent's unpacked layers (read-only
// lower directories, topmost first) and a fresh upper directory that collects the step's
// changes. Unmounted (lazily if busy) when the object dies, even on an exception.
//
// Mounting uses the new mount API (fsopen/fsconfig/fsmount/move_mount) with one
// `lowerdir+` parameter per layer (kernel >= 6.8), so the number of layers is not bounded by
// the one-page option string of mount(2). Older kernels get mount(2) with short relative
// names: a temporary directory of symlinks 0, 1, 2, ... (like Docker overlay2's l/ links),
// mounted from a child process that chdirs there (cwd is per process; the child shares the
// mount namespace), then removed. Overlay stacks at most kMaxOverlayLowers lower layers;
// more is an error naming the limit (no flattening).
//
// The mount is `volatile` (kernel >= 5.10): overlay never syncs the upper file system, neither
// on sync calls nor at unmount, where it would otherwise flush the whole file system the store
// lives on (tens of milliseconds on a busy machine, on every step). An upper directory is
// either thrown away or kept as a layer, and PendingLayers::record syncs the file system
// before it records a layer (docs/security.md 21), so nothing relied on overlay's own sync. The
// work directory of a volatile mount cannot be mounted again (work/incompat/volatile): each
// mount has its own.
#pragma once

#include <cstddef>
#include <filesystem>
#include <vector>

namespace mkimg::runtime {

/// The kernel's overlay stacking limit (OVL_MAX_STACK).
inline constexpr std::size_t kMaxOverlayLowers = 500;

/// Which kernel interface mounts the overlay; kAuto tries the new API and falls back.
enum class OverlayApi { kAuto, kNewApi, kLegacy };

/// An overlay mount at `merged`; owns the mount, not the directories.
class OverlayMount {
 public:
  /// Mounts lowers (topmost first; empty = one empty directory `empty_lower`) + upper/work
  /// at merged. Throws mkimg::Error when the mount fails or there are more than
  /// kMaxOverlayLowers lowers.
  OverlayMount(const std::vector<std::filesystem::path>& lowers,
               const std::filesystem::path& empty_lower, const std::filesystem::path& upper,
               const std::filesystem::path& work, const std::filesystem::path& merged,
               OverlayApi api = OverlayApi::kAuto);
  OverlayMount(const OverlayMount&) = delete;
  OverlayMount& operator=(const OverlayMount&) = delete;
  ~OverlayMount();

  const std::filesystem::path& merged() const { return merged_; }
  /// The interface that made the mount (kNewApi or kLegacy).
  OverlayApi api() const { return api_; }
  /// Unmounts now (throws on failure); the destructor then does nothing.
  void unmount();

 private:
  std::filesystem::path merged_;
  OverlayApi api_ = OverlayApi::kAuto;
  bool mounted_ = false;
};

/// Detaches every mount strictly below `dir` (the deepest first): what a killed process left
/// mounted in a store's tmp/. A mount that cannot be detached is a warning.
void detach_mounts_below(const std::filesystem::path& dir);

}  // namespace mkimg::runtime
