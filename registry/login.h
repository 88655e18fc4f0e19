// `mkimg login` and `mkimg logout`: check a credential against the registry, then keep it
// in Docker's config.json (or its credential helper); or forget it.
#pragma once

#include <string>
#include <string_view>

#include "registry/credential_store.h"
#include "registry/options.h"

namespace mkimg::registry {

/// "https://host:5000/v2/" or "host:5000" -> "host:5000"; "index.docker.io" -> "docker.io".
std::string login_domain(std::string_view server);

/// Answers the registry's challenge with `credential` and checks /v2/ accepts it, then stores
/// it. Throws mkimg::Error ("login `domain`: ...", "401 Unauthorized ... wrong username or
/// password") and stores nothing when the registry refuses.
void login(std::string_view server, const Credential& credential, const RegistryOptions& options);

/// Removes the stored credential; returns false when there was none.
bool logout(std::string_view server, const RegistryOptions& options);

}  // namespace mkimg::registry
