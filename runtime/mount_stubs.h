// Mount stubs: the empty files and directories a runtime creates in the upper directory as
// mount points (/etc/hosts, /proc, /dev, a cache mount target). They are not the step's work
// and must not leak into its layer, so they are found before the run and removed after.
#pragma once

#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

namespace mkimg::runtime {

/// A path the runtime will create as a mount point, and the time of its parent directory
/// before (restored after the stub is removed, so the parent does not show as changed).
struct MountStub {
  std::string path;
  struct timespec parent_mtime {};
  bool has_parent_mtime = false;
};

/// For each mount destination, resolved in the root as the runtime resolves it (symlinks
/// followed inside the root), every missing path component. Call before the runtime starts.
std::vector<MountStub> find_mount_stubs(const std::filesystem::path& merged,
                                        const std::vector<std::string>& destinations);

/// Removes the stubs from the upper directory (deepest first, only empty directories and
/// empty regular files, never following symlinks). Call after the container is gone and the
/// overlay is unmounted.
void remove_mount_stubs(const std::filesystem::path& upper, std::vector<MountStub> stubs);

}  // namespace mkimg::runtime
