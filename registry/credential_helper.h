// Docker credential helpers: host programs docker-credential-<name> that keep secrets in a
// keychain. The protocol: argv[1] is get, store or erase; the input (a server URL, or a JSON
// {"ServerURL","Username","Secret"}) goes to stdin; `get` prints that JSON on stdout.
#pragma once

#include <string>
#include <string_view>

namespace mkimg::registry {

/// What running a helper gave back.
struct HelperResult {
  int exit_code = 0;
  std::string out;
};

/// Runs docker-credential-<name> `action` from the host's PATH with `input` on stdin, no
/// shell, and waits for it. `name` must be [A-Za-z0-9_.-]+ (no path). Throws mkimg::Error
/// when it cannot be started or `name` is invalid.
HelperResult run_credential_helper(std::string_view name, std::string_view action,
                                   std::string_view input);

}  // namespace mkimg::registry
