// The user namespace mkimg runs in: the initial one (real root) or one of its own (rootless,
// runtime/rootless.h makes it), and the errors an id outside its mapping gives.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "common/error.h"

namespace mkimg {

/// True when this process's user namespace is not the initial one (its uid_map is not the
/// whole range): mkimg entered one to build without root, or runs in a rootless container.
/// Then overlay keeps its markers in user.overlay.* and the bundle cannot mount sysfs.
bool in_user_namespace();

/// The xattr that holds overlay's marker `name` (opaque, redirect, metacopy) on this host:
/// trusted.overlay.<name> as real root, user.overlay.<name> in a user namespace, where mkimg
/// mounts overlays with `userxattr` (trusted.* is root's alone).
std::string overlay_xattr(std::string_view name);

/// The ids this namespace maps, from /proc/self/uid_map or gid_map ("0-65536"), for errors.
std::string mapped_ids(std::string_view which);

/// The error of a failed chown of `path` to uid:gid (errno as the call left it). EINVAL
/// inside a user namespace means an id it does not map: the message names the id and the fix.
Error chown_error(std::string_view path, uid_t uid, gid_t gid);

}  // namespace mkimg
