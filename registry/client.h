// The OCI distribution API for one repository of one registry: manifests, blobs, uploads.
// Requests carry the session's Authorization only to the endpoint's own origin; a 401 is
// answered once through AuthSession; idempotent requests are retried on transient errors
// (connection failures, 429, 5xx) with a short back-off.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "oci/descriptor.h"
#include "oci/digest.h"
#include "registry/auth_session.h"
#include "registry/config.h"
#include "registry/http_client.h"
#include "registry/options.h"

namespace mkimg::registry {

/// A manifest or index exactly as the registry sent it.
struct FetchedManifest {
  std::string bytes;       ///< the bytes hashed and to be parsed
  std::string media_type;  ///< from Content-Type
  oci::Digest digest;      ///< of `bytes`; equal to the digest asked for, when one was
};

/// Which actions the client needs on its repository (the token scope).
enum class Access {
  kPull,
  kPush,
  kDelete,  ///< pull and delete (`mkimg cache prune --ref`); reached as for a push, no mirror
};

/// The state shared by clones of one client: endpoint, auth, options.
struct RegistryConnection {
  Endpoint endpoint;
  std::string repository;           ///< the path, "team/app"
  std::vector<std::string> scopes;  ///< token scopes requested with every 401
  std::shared_ptr<AuthSession> auth;
  RegistryOptions options;
};

/// The distribution API for one repository. Not thread-safe; clone() one per thread.
class RegistryClient {
 public:
  /// Finds the first endpoint of `domain` that answers GET /v2/ (200 or 401) and reads the
  /// credential for it. `extra_pull` adds pull scopes of other repositories (mount sources).
  static RegistryClient connect(std::string_view domain, std::string_view repository, Access access,
                                const RegistryOptions& options,
                                const std::vector<std::string>& extra_pull = {});
  /// A client over the same endpoint and session, with its own connection.
  RegistryClient clone() const;
  const RegistryConnection& connection() const { return *connection_; }

  /// GET /v2/<repo>/manifests/<reference> with every manifest type in Accept; capped at
  /// 4 MiB. Throws mkimg::Error ("... not found" for 404).
  FetchedManifest get_manifest(std::string_view reference);
  /// The same, with nullopt when the registry answers 404 (no such tag or digest).
  std::optional<FetchedManifest> find_manifest(std::string_view reference);
  /// A whole blob of at most `max_size` bytes (a config, a cache entry), its digest checked.
  /// Throws mkimg::Error ("fetch blob ...: not found" for 404).
  std::string get_small_blob(const oci::Digest& digest, std::size_t max_size);
  /// GET /v2/<repo>/tags/list, following Link pages; none for an unknown repository.
  std::vector<std::string> list_tags();
  /// DELETE /v2/<repo>/manifests/<digest>: true when deleted (or already gone), false when
  /// the registry does not allow deletes (405, as docker-registry without delete.enabled).
  bool delete_manifest(const oci::Digest& digest);
  /// Streams a blob into `sink` from byte `offset` (a Range request). `on_start(status)` is
  /// called before the first byte with 200 (whole blob) or 206 (from offset). One attempt.
  void get_blob(const oci::Digest& digest, std::int64_t offset,
                const std::function<void(long status)>& on_start, const BodySink& sink);
  /// HEAD /v2/<repo>/blobs/<digest>: true when the registry has it.
  bool has_blob(const oci::Digest& digest);
  /// Tries a cross-repository mount from `from`; true when the registry mounted it.
  bool mount_blob(const oci::Digest& digest, std::string_view from);
  /// Uploads a blob of `size` bytes read by `read(offset, buf, n)`: one PUT when size is at
  /// most `chunk_size`, else PATCH chunks then the closing PUT.
  void upload_blob(const oci::Digest& digest, std::int64_t size, std::int64_t chunk_size,
                   const std::function<std::size_t(std::int64_t, char*, std::size_t)>& read);
  /// PUT /v2/<repo>/manifests/<reference>; checks the digest the registry reports.
  void put_manifest(std::string_view reference, std::string_view bytes,
                    std::string_view media_type);

 private:
  RegistryClient(std::shared_ptr<RegistryConnection> connection, HttpClient http);
  std::string url(std::string_view path) const;
  std::string manifest_object(std::string_view reference) const;
  HttpResponse send(HttpRequest request, const BodySink& sink = {}, std::size_t max_body = 1 << 20);
  HttpResponse send_retrying(const HttpRequest& request, std::size_t max_body = 1 << 20);
  std::string upload_chunks(
      std::string location, std::int64_t size, std::int64_t chunk_size,
      const std::function<std::size_t(std::int64_t, char*, std::size_t)>& read);

  std::shared_ptr<RegistryConnection> connection_;
  HttpClient http_;
};

/// The Accept header for manifests: OCI manifest and index, Docker v2 schema 2 and list.
std::string manifest_accept_header();
/// "HTTP 404: MANIFEST_UNKNOWN manifest unknown" from a registry error answer.
std::string describe_http_error(const HttpResponse& response);

}  // namespace mkimg::registry
