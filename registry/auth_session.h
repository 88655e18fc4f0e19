// Answering a registry's 401: the challenge flow of the distribution token spec.
//
// A request goes out with whatever Authorization this session already has for its scope.
// On 401, the WWW-Authenticate challenge decides: Basic sends the user's credential to the
// registry; Bearer asks the realm (checked: https, or http only to a host where HTTP is
// allowed) for a token with service and scopes ("repository:team/app:pull,push"), sending the
// credential (if any) as Basic to the realm only. Tokens are cached per scope set. A session
// is shared by the threads of one pull or push, so it locks.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "registry/credential_store.h"
#include "registry/http_client.h"

namespace mkimg::registry {

/// Tells whether plain HTTP may be used to a host (the realm check).
using HttpAllowed = std::function<bool(std::string_view host)>;

/// The Authorization a registry wants from us, learned from its challenges.
class AuthSession {
 public:
  /// `registry` is the host the credential belongs to (for messages); `http` the TLS
  /// settings for the token realm.
  AuthSession(std::string registry, std::optional<Credential> credential, HttpSettings http,
              HttpAllowed http_allowed);

  /// The Authorization header value for `scopes`, when one is known.
  std::optional<std::string> authorization(const std::vector<std::string>& scopes) const;

  /// Handles a 401 answer to a request for `scopes`: fetches a token or prepares Basic.
  /// Throws mkimg::Error when the challenge cannot be answered (no credential for Basic,
  /// the realm refuses the credential, a bad realm).
  void answer(const HttpResponse& unauthorized, const std::vector<std::string>& scopes);

  /// True when a credential is configured.
  bool has_credential() const { return credential_.has_value(); }
  const std::string& registry() const { return registry_; }

 private:
  std::string fetch_token(const std::string& realm, const std::string& service,
                          const std::vector<std::string>& scopes);

  std::string registry_;
  std::optional<Credential> credential_;
  HttpSettings http_;
  HttpAllowed http_allowed_;
  mutable std::mutex mutex_;
  std::optional<std::string> basic_;                         ///< "Basic ..." once asked for
  std::vector<std::pair<std::string, std::string>> tokens_;  ///< scope key -> "Bearer ..."
};

/// The token scope for a repository: "repository:<path>:<actions>".
std::string repository_scope(std::string_view path, std::string_view actions);

}  // namespace mkimg::registry
