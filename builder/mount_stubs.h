// Mount stubs: the empty files and directories a runtime creates in the upper directory as
// mount points (/etc/hosts, /proc, /dev, a cache mount target). They are not the step's work
// and must not leak into its layer, so they are found before the run and removed after.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace mkimg::builder {

/// For each mount destination, the first path component (and so everything below it) that
/// does not yet exist in the merged root. Call before the runtime starts.
std::vector<std::string> find_mount_stubs(const std::filesystem::path& merged,
                                          const std::vector<std::string>& destinations);

/// Removes the stubs from the upper directory (deepest first, only empty directories and
/// empty regular files, never following symlinks). Call after the container is gone and the
/// overlay is unmounted.
void remove_mount_stubs(const std::filesystem::path& upper, std::vector<std::string> stubs);

}  // namespace mkimg::builder
