// Building without root: mkimg, started by an ordinary user, becomes root of a user namespace
// of its own (with a mount namespace) that maps the user to 0 and the user's subordinate ids
// (/etc/subuid, /etc/subgid) to 1..N, through newuidmap and newgidmap as buildah and
// rootlesskit do. Inside, files keep the container's ids (0, 1000, ...), overlay keeps its
// markers in user.overlay.* (common/user_namespace.h) and runc runs as in a rootless container.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

namespace mkimg::runtime {

/// One line of /etc/subuid or /etc/subgid: `count` ids from `start`.
struct SubIdRange {
  unsigned long start = 0;
  unsigned long count = 0;
};

/// The first range of the user (by name, or by numeric uid as newuidmap also accepts) in the
/// text of an /etc/subuid-format file; nullopt when it has none.
std::optional<SubIdRange> find_subid_range(std::string_view file_text, std::string_view name,
                                           unsigned long id);

/// Makes this process root of a new user and mount namespace: the uid and gid to 0, the
/// subordinate ranges to 1..N, mounts private. Call it single-threaded, before any work.
/// Throws mkimg::Error naming the fix: no range for the user, newuidmap or newgidmap missing
/// or failing, user namespaces disabled.
void enter_user_namespace();

}  // namespace mkimg::runtime
