// Whether this host can run a platform's programs: natively (its own architecture, 386 on
// amd64, arm on arm64) or through a binfmt_misc handler registered for the architecture
// (QEMU's qemu-<arch>, as `qemu-user-static` registers them). A RUN for any other platform is
// an error naming the fix, never a silent run of the wrong binaries.
#pragma once

#include <optional>
#include <string>

namespace mkimg::runtime {

/// Empty when programs of os/architecture run here; else why not and what to do.
std::optional<std::string> cannot_run(const std::string& os, const std::string& architecture);

}  // namespace mkimg::runtime
