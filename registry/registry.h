// registry/: the registry client. mkimg speaks the OCI distribution protocol over libcurl to
// pull, push, log in and log out. The registry plugs into oci/transport.h as the "docker"
// transport (docker://REF and plain references), so FROM and `mkimg pull` reach it through
// oci::open_source(); the oci/ folder knows nothing of registries beyond reference names.
//
// A newcomer's map of the folder (namespace mkimg::registry; image types are oci::):
//   registry.h           this map, and the headers a user of the library includes
//   options.h            RegistryOptions: what the command line and the config file can set
//   config.h             registries.yaml (mirrors, insecure, CA per registry) and Docker's
//                        transport rules: HTTPS by default, HTTP only for insecure hosts and
//                        loopback, docker.io -> registry-1.docker.io
//   http_client.h        one libcurl request: TLS, CA file, timeouts, manual redirects (capped,
//                        Authorization dropped on a change of host), streamed bodies, ranges;
//                        download_to_fd() for ADD's URL sources
//   curl_loader.cpp      libcurl opened with dlopen() on first use (mkimg is not linked with it:
//                        its ~30 dependent libraries made every command's start-up slow)
//   encoding.h           base64 (Basic credentials, config.json "auth" fields) and
//                        percent-encoding (token URLs), also used by builder/ and cli/
//   auth_challenge.h     the WWW-Authenticate parser (Basic, Bearer realm/service/scope)
//   credential_store.h   ~/.docker/config.json: auths, credHelpers, credsStore
//   credential_helper.h  running a docker-credential-<name> helper (get, store, erase)
//   auth_session.h       a 401 answered with Basic or a Bearer token, tokens cached per scope
//   client.h             RegistryClient: the distribution API for one repository: manifests,
//                        blobs, uploads; retries of transient errors
//   parallel.h           run_parallel(): the small thread pool blob transfers run on
//   download.h           blobs streamed into the store, resumed with Range, verified
//   source.h             RegistrySource: a registry image as an oci::ImageSource
//   transport.cpp        register_registry_transport(): the "docker" transport for
//                        oci::open_source()
//   pull.h               pull_image(): manifest, config and layers into the store, verified
//   push.h               push_image(): blobs (HEAD, mount, monolithic or chunked), manifest last
//   login.h              `mkimg login` and `mkimg logout`: check a credential, keep or forget it
//
// Nothing here trusts the registry: digests are validated before they become paths, the bytes
// hashed are the bytes parsed, manifests are capped at 4 MiB, credentials stay with their host.
// Third-party code (libcurl, OpenSSL, nlohmann-json, yaml-cpp) stays in the .cpp files.
#pragma once

#include "registry/http_client.h"
#include "registry/login.h"
#include "registry/options.h"
#include "registry/pull.h"
#include "registry/push.h"
#include "registry/source.h"
