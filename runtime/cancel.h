// The interrupt of the whole process: SIGINT or SIGTERM sets it, and everything that waits or
// works long checks it: a running container is killed (container_runtime.h), a download stops
// (builder/copy/url_source.h), the next step of a build does not start, and a COPY stops at
// the next file or MiB: the walk of its sources (and their .dockerignore matching), their
// hashing (builder/context_hash.h), their writing into the root, and the layer being written
// (the builder passes keep_going() as the keep_going of snapshot::LayerOptions,
// snapshot::materialize_spec and copy_fd_data, rooms that cannot see this one), and the
// unpacking of a layer (snapshot::ApplyLimits: a FROM's base, an ADD's archive, an export,
// `mkimg run`'s image) stops at the next 256 KiB. The handlers
// are installed by the commands that run containers (`mkimg build`, `mkimg run`).
#pragma once

namespace mkimg::runtime {

/// Installs SIGINT/SIGTERM handlers that set the interrupt (no SA_RESTART, so a blocking call
/// returns EINTR and its loop looks at interrupted()).
void install_interrupt_handlers();

/// Whether SIGINT or SIGTERM arrived since the handlers were installed.
bool interrupted();

/// !interrupted(): what the builder and `mkimg run` pass as the keep_going of the rooms that
/// cannot see this one.
inline bool keep_going() { return !interrupted(); }

}  // namespace mkimg::runtime
