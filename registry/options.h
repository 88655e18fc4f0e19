// Registry options: how mkimg reaches registries, shared by pull, push, login and logout.
//
// The registry client (files oci/registry_*, oci/http_*, oci/auth_*, oci/credential*) speaks the
// OCI distribution protocol over libcurl:
//   registry_options.h   what the command line and the config file can set (this file)
//   registry_config.h    registries.yaml (mirrors, insecure, CA per registry) and Docker's
//                        transport rules: HTTPS by default, HTTP only for insecure hosts and
//                        loopback, docker.io -> registry-1.docker.io
//   http_client.h        one libcurl request: TLS, CA file, timeouts, manual redirects (capped,
//                        Authorization dropped on a change of host), streamed bodies, ranges
//   auth_challenge.h     the WWW-Authenticate parser (Basic, Bearer realm/service/scope)
//   credential_store.h   ~/.docker/config.json: auths, credHelpers, credsStore; login/logout
//   auth_session.h       a 401 answered with Basic or a Bearer token, tokens cached per scope
//   registry_client.h    the distribution API for one repository: manifests, blobs, uploads
//   registry_platform.h  Accept types and the choice of a platform in an index
//   registry_pull.h      pull_image: manifest, config and layers into the store, verified
//   registry_push.h      push_image: blobs (HEAD, mount, monolithic or chunked), manifest last
// Nothing here trusts the registry: digests are validated before they become paths, the bytes
// hashed are the bytes parsed, manifests are capped at 4 MiB, credentials stay with their host.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace mkimg::oci {

/// Settings for talking to registries, filled from the command line; the config file
/// (registries.yaml) adds per-registry settings on top.
struct RegistryOptions {
  std::vector<std::string> insecure_registries;  ///< --insecure-registry HOST[:PORT]; HTTP allowed
  std::string tls_ca_file;         ///< --tls-ca FILE: extra CA bundle for every registry
  std::string registries_config;   ///< --registries-config; empty: $MKIMG_REGISTRIES_CONFIG, then
                                   ///< ~/.config/mkimg/registries.yaml (absent file = defaults)
  std::string docker_config_dir;   ///< empty: $DOCKER_CONFIG, then ~/.docker
  std::size_t parallel_blobs = 3;  ///< blobs transferred at the same time
  long timeout_seconds = 60;       ///< connect and low-speed (stall) timeout of each request
  int retries = 3;                 ///< attempts after a transient error (connection, 5xx, 429)
};

}  // namespace mkimg::oci
