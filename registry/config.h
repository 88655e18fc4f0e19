// Where a registry is reached: registries.yaml and Docker's transport rules.
//
// ~/.config/mkimg/registries.yaml (or --registries-config FILE, or $MKIMG_REGISTRIES_CONFIG):
//   registries:
//     - host: registry.example.com:5000   # a reference's domain
//       insecure: true                    # HTTPS without verification, then plain HTTP
//       ca: /etc/mkimg/example-ca.pem     # an extra CA bundle for this host
//       mirrors: [mirror.local:5000]      # tried first for pulls, in order
// Rules, as Docker's: HTTPS with verification by default; a host listed as insecure
// (--insecure-registry or `insecure: true`) gets HTTPS without verification, then HTTP;
// loopback (localhost, 127.0.0.0/8, ::1) gets verified HTTPS, then HTTP when the server
// does not speak TLS; docker.io is served by registry-1.docker.io. Pushes never use mirrors.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "registry/http_client.h"
#include "registry/options.h"

namespace mkimg::registry {

/// One registry's settings from registries.yaml.
struct RegistryHostConfig {
  std::string host;
  bool insecure = false;
  std::string ca_file;
  std::vector<std::string> mirrors;
};

/// The whole registries.yaml.
struct RegistriesConfig {
  std::vector<RegistryHostConfig> registries;
};

/// Parses registries.yaml text; throws mkimg::Error ("parse registries config `origin`: ...").
RegistriesConfig parse_registries_config(std::string_view yaml, std::string_view origin);
/// Reads the file the options name (see the file comment); an absent default file is empty.
RegistriesConfig load_registries_config(const RegistryOptions& options);

/// Whether an endpoint is a mirror or the registry itself; what pushing may use.
enum class EndpointRole { kMirror, kRegistry };
/// What the endpoints are for: pulls may use mirrors, pushes may not.
enum class Purpose { kPull, kPush };

/// One way to reach a registry: a base URL ("https://host:port") and its TLS settings.
struct Endpoint {
  std::string base_url;
  std::string host;  ///< host[:port] as in a reference, the key for credentials
  HttpSettings http;
  EndpointRole role = EndpointRole::kRegistry;
  /// True when a TLS handshake failure may fall through to the next endpoint (HTTP).
  bool fallback_on_tls_failure = false;

  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

/// The API host of a reference domain: docker.io -> registry-1.docker.io; others unchanged.
std::string api_host(std::string_view domain);
/// True for localhost, 127.0.0.0/8 and ::1, with or without a port.
bool is_loopback(std::string_view host);
/// True when plain HTTP is allowed to `host` (loopback, or listed insecure).
bool allows_http(std::string_view host, const RegistriesConfig& config,
                 const RegistryOptions& options);

/// The endpoints to try for `domain`, in order: mirrors first (for pulls), then the registry;
/// each as HTTPS and, when allowed, HTTP.
std::vector<Endpoint> endpoints_for(std::string_view domain, Purpose purpose,
                                    const RegistriesConfig& config, const RegistryOptions& options);

}  // namespace mkimg::registry
