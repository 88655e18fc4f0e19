// One HTTP request over libcurl, for the registry client (see registry.h) and ADD's
// URL sources (download_to_fd: a GET streamed into a file, hashed and size-capped on the way).
// libcurl stays in http_client.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"
#include "oci/digest.h"

namespace mkimg::registry {

/// Header lines in order, names as written.
using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

/// Whether the server's TLS certificate is checked (only --insecure-registry turns it off).
enum class TlsVerify { kYes, kNo };

/// How requests reach a host: TLS trust, timeouts and the redirect cap.
struct HttpSettings {
  std::string ca_file;  ///< extra CA bundle; empty: the system's
  TlsVerify verify = TlsVerify::kYes;
  long connect_timeout_seconds = 30;
  long stall_timeout_seconds = 60;  ///< abort when under 1 byte/s for this long
  int max_redirects = 5;

  friend bool operator==(const HttpSettings&, const HttpSettings&) = default;
};

/// Supplies a request body piece by piece: fills up to `size` bytes, returns 0 at the end.
using BodyReader = std::function<std::size_t(char* data, std::size_t size)>;
/// Receives the body of a 2xx response as it arrives.
using BodySink = std::function<void(std::string_view bytes)>;

/// One request. An Authorization header is sent only to the origin of `url`: a redirect to
/// another scheme, host or port drops it (docs/security.md 20).
struct HttpRequest {
  std::string method = "GET";
  std::string url;
  HttpHeaders headers;
  std::string body;   ///< sent when `reader` is empty
  BodyReader reader;  ///< streamed body of `reader_size` bytes
  std::int64_t reader_size = 0;
  /// Called with the status and headers of a 2xx response before its first body byte
  /// reaches the sink; may throw to abort the transfer.
  std::function<void(long status, const HttpHeaders& headers)> on_headers;
};

/// The final response after redirects.
struct HttpResponse {
  long status = 0;
  HttpHeaders headers;
  std::string body;  ///< the body when no sink took it (capped), or a non-2xx body
  std::string url;   ///< the URL that answered

  /// The first header named `name` (case-insensitive).
  std::optional<std::string> header(std::string_view name) const;
};

/// A request that failed below HTTP (connect, TLS handshake, reset, timeout). `retryable`
/// is false for certificate problems, which no retry fixes.
class TransportError : public Error {
 public:
  enum class Kind { kRetryable, kTlsHandshake, kCertificate };
  TransportError(const std::string& message, Kind kind) : Error(message), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

/// Owns one libcurl handle (connections are reused between requests). Not thread-safe: one
/// client per thread.
class HttpClient {
 public:
  explicit HttpClient(HttpSettings settings);
  ~HttpClient();
  HttpClient(HttpClient&&) noexcept;
  HttpClient& operator=(HttpClient&&) noexcept;
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  const HttpSettings& settings() const { return settings_; }

  /// Sends `request`, following redirects of GET and HEAD (at most max_redirects). A 2xx body
  /// goes to `sink` when given; otherwise it is kept in the response, and a body over
  /// `max_body` bytes fails with mkimg::Error. Throws TransportError below HTTP and
  /// mkimg::Error for bad URLs or a redirect loop; an exception from `sink` passes through.
  HttpResponse send(const HttpRequest& request, const BodySink& sink = {},
                    std::size_t max_body = 4 * 1024 * 1024);

 private:
  struct Handle;
  HttpResponse send_once(const HttpRequest& request, const BodySink& sink, std::size_t max_body);

  HttpSettings settings_;
  std::unique_ptr<Handle> handle_;
};

/// "scheme://host:port" of a URL, lowercased, with the default port filled in; throws
/// mkimg::Error for a URL that is not http(s).
std::string url_origin(std::string_view url);
/// The host part of a URL without port or brackets ("127.0.0.1", "::1", "example.com").
std::string url_host(std::string_view url);
/// `location` resolved against `base` (a relative Location header).
std::string resolve_url(std::string_view base, std::string_view location);
/// True for 429 and 5xx answers, which a retry may fix.
bool is_retryable_status(long status);

/// Seconds since the epoch of an HTTP date (RFC 1123, RFC 850 or asctime form, as in
/// Last-Modified); nullopt when it does not parse.
std::optional<std::int64_t> parse_http_date(std::string_view text);

/// What download_to_fd() fetched.
struct Download {
  HttpResponse response;  ///< the final 2xx answer's status, headers and URL (no body)
  std::uint64_t size = 0;
  oci::Digest digest;  ///< of the bytes written, with the algorithm asked for
};

/// GETs `url` (redirects followed as send() does) and writes the body to `fd` as it arrives,
/// hashing it with `algorithm`. Throws mkimg::Error "download `url`: ..." for a non-2xx answer
/// (naming the status), a body over `max_size` bytes (checked against Content-Length before
/// the first byte too), a write error, or when `keep_going` (called between chunks) returns
/// false; TransportError below HTTP. On a throw `fd` holds a partial body.
Download download_to_fd(HttpClient& client, const std::string& url, int fd,
                        oci::DigestAlgorithm algorithm, std::uint64_t max_size,
                        const std::function<bool()>& keep_going = {});

}  // namespace mkimg::registry
