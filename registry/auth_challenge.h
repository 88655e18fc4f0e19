// The WWW-Authenticate header of a 401 answer (RFC 7235), as registries send it:
//   Bearer realm="https://auth.example.com/token",service="registry",scope="repository:a:pull"
//   Basic realm="Registry Realm"
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace mkimg::registry {

/// The authentication schemes mkimg answers.
enum class AuthScheme { kBasic, kBearer };

/// One challenge: its scheme and its parameters (names lowercased, values unquoted).
struct Challenge {
  AuthScheme scheme = AuthScheme::kBasic;
  std::map<std::string, std::string> params;

  /// The parameter `name`, or "" when absent.
  std::string param(const std::string& name) const;
};

/// Every Basic or Bearer challenge in a WWW-Authenticate value, in order; challenges of other
/// schemes are skipped. Malformed text ends the parse (what was read before is kept).
std::vector<Challenge> parse_challenges(std::string_view header);

}  // namespace mkimg::registry
