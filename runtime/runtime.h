// runtime/: running a container on a root, for RUN steps and `mkimg run`. A map of the folder:
//
//   runtime.h             this map; includes the headers a user of the folder needs
//   container_runtime.h   the OCI runtime (runc, then crun): found and probed (--version, with
//                         a memo in the store), one container run from a bundle, its output
//                         streamed line by line, killed and deleted by RAII (by a reaper
//                         when mkimg is SIGKILLed); a killed mkimg's leftovers cleared
//   bundle_config.h       the bundle's config.json: namespaces, Docker's default capabilities,
//                         masked and read-only /proc paths, mounts, network host or none; or
//                         privileged (RUN --security=insecure): every capability held, no masks;
//                         rlimits and the /dev/shm size, the /etc/hosts text; docker's
//                         `--ulimit` and `--add-host` values parsed
//   overlay_mount.h       the root of a step: an overlay of unpacked layers (lower) and a
//                         fresh upper directory, up to 500 layers
//   mount_stubs.h         the empty files and directories a runtime leaves in the upper
//                         directory as mount points, found and removed before the diff
//   user_database.h       the image's own /etc/passwd and /etc/group (never the host's NSS),
//                         and USER / --chown resolution
//   cancel.h              the interrupt of the process (SIGINT, SIGTERM): containers are killed,
//                         long work stops
//   emulation.h           whether a platform's programs run here (natively or through QEMU
//                         registered with binfmt_misc, enabled and with the F flag; else an
//                         error naming the fix), and `mkimg setup-binfmt`: binfmt_misc
//                         mounted, Debian's qemu-user-static registered with F
//   rootless.h            building without root: mkimg becomes root of a user namespace of its
//                         own, the user's /etc/subuid and /etc/subgid ranges mapped by newuidmap
//   run_image.h           `mkimg run`'s core: a container from an image config on a throwaway
//                         overlay, stdio attached, with docker run's changes (env, binds, user,
//                         workdir, entrypoint, a name held by a lock, a terminal)
//
// runtime/ uses oci/ (the store's tmp/ and the probe memo in its cache/) and common/; it knows
// nothing of Dockerfiles, builds or layers as tars. Every path inside a root goes through
// common/in_root.h.
#pragma once

#include "runtime/bundle_config.h"
#include "runtime/cancel.h"
#include "runtime/container_runtime.h"
#include "runtime/emulation.h"
#include "runtime/mount_stubs.h"
#include "runtime/overlay_mount.h"
#include "runtime/rootless.h"
#include "runtime/run_image.h"
#include "runtime/user_database.h"
