// The interrupt of the whole process: SIGINT or SIGTERM sets it, and everything that waits or
// works long checks it: a running container is killed (container_runtime.h), a download stops
// (builder/copy/url_source.h), the next step of a build does not start. The handlers are
// installed by the commands that run containers (`mkimg build`, `mkimg run`).
#pragma once

namespace mkimg::runtime {

/// Installs SIGINT/SIGTERM handlers that set the interrupt (no SA_RESTART, so a blocking call
/// returns EINTR and its loop looks at interrupted()).
void install_interrupt_handlers();

/// Whether SIGINT or SIGTERM arrived since the handlers were installed.
bool interrupted();

}  // namespace mkimg::runtime
