// HttpClient on a libcurl easy handle. Redirects are followed here, not by libcurl, so the
// Authorization header can be dropped when the origin changes.
#include "registry/http_client.h"
#include "common/ascii.h"

#include <curl/curl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>

namespace mkimg::registry {
namespace {

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

/// Owns a CURLU handle.
struct Url {
  CURLU* u = curl_url();
  ~Url() { curl_url_cleanup(u); }
  Url() = default;
  Url(const Url&) = delete;
  Url& operator=(const Url&) = delete;
  std::string get(CURLUPart part, unsigned flags = 0) const {
    char* out = nullptr;
    if (curl_url_get(u, part, &out, flags) != CURLUE_OK) return "";
    std::string s(out);
    curl_free(out);
    return s;
  }
};

void parse_url(Url& url, std::string_view text) {
  std::string s(text);
  if (curl_url_set(url.u, CURLUPART_URL, s.c_str(), 0) != CURLUE_OK) {
    throw Error(describe("parse URL", text, "malformed"));
  }
  std::string scheme = ascii_lower(url.get(CURLUPART_SCHEME));
  if (scheme != "http" && scheme != "https") {
    throw Error(describe("parse URL", text, "only http and https are allowed"));
  }
}

bool drop_on_redirect(std::string_view name) {
  return ascii_iequals(name, "Authorization") || ascii_iequals(name, "Cookie");
}

/// `url` fit for a debug log: no user:password@, and the values of query parameters that
/// may carry a secret (signatures, tokens, keys of pre-signed redirect URLs) redacted.
std::string loggable_url(std::string_view url) {
  Url u;
  if (curl_url_set(u.u, CURLUPART_URL, std::string(url).c_str(), 0) != CURLUE_OK) return "?";
  std::string out = u.get(CURLUPART_SCHEME) + "://" + u.get(CURLUPART_HOST);
  if (std::string port = u.get(CURLUPART_PORT); !port.empty()) out += ":" + port;
  out += u.get(CURLUPART_PATH);
  std::string query = u.get(CURLUPART_QUERY);
  if (query.empty()) return out;
  char sep = '?';
  for (std::size_t start = 0; start <= query.size();) {
    std::size_t amp = std::min(query.find('&', start), query.size());
    std::string item = query.substr(start, amp - start);
    std::string name = ascii_lower(item.substr(0, item.find('=')));
    for (const char* secret : {"sig", "token", "key", "cred", "auth", "pass", "secret", "code"}) {
      if (name.find(secret) != std::string::npos)
        item = item.substr(0, item.find('=')) + "=REDACTED";
    }
    out += sep + item;
    sep = '&';
    start = amp + 1;
  }
  return out;
}

TransportError::Kind classify(CURLcode code) {
  switch (code) {
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
      return TransportError::Kind::kCertificate;
    case CURLE_SSL_CONNECT_ERROR:
      return TransportError::Kind::kTlsHandshake;
    default:
      return TransportError::Kind::kRetryable;
  }
}

}  // namespace

/// The curl handle and what its callbacks collect during one transfer.
struct HttpClient::Handle {
  CURL* curl = nullptr;
  HttpResponse response;
  const BodySink* sink = nullptr;
  const BodyReader* reader = nullptr;
  const HttpRequest* request = nullptr;
  bool body_started = false;
  std::size_t max_body = 0;
  std::exception_ptr error;
  char error_buffer[CURL_ERROR_SIZE] = {};

  Handle() {
    global_init();
    curl = curl_easy_init();
    if (!curl) throw Error("start HTTP client: curl_easy_init failed");
  }
  ~Handle() { curl_easy_cleanup(curl); }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  bool is_2xx() const { return response.status >= 200 && response.status < 300; }

  /// Ready for a new request: the handle's options and the last response cleared.
  void reset(const HttpRequest& r, const BodySink& s, std::size_t max) {
    curl_easy_reset(curl);
    response = HttpResponse{};
    response.url = r.url;
    sink = &s;
    reader = &r.reader;
    request = &r;
    body_started = false;
    max_body = max;
    error = nullptr;
    error_buffer[0] = '\0';
  }

  /// URL, protocols, timeouts, TLS and the callbacks; redirects are never followed here.
  void set_connection(const std::string& url, const HttpSettings& settings) {
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, settings.connect_timeout_seconds);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, settings.stall_timeout_seconds);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "mkimg/0.1");
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &Handle::on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, this);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Handle::on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, this);
    // Blobs are tens of MB: 512 KiB reads take a tenth of the syscalls (and of the digest and
    // write calls behind on_body) that curl's 16 KiB default does.
    curl_easy_setopt(curl, CURLOPT_BUFFERSIZE, 512L * 1024);
    if (!settings.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, settings.ca_file.c_str());
    if (settings.verify == TlsVerify::kNo) {
      curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    }
  }

  /// The method and its body: none (GET, HEAD), streamed from the reader, or in memory.
  void set_method(const HttpRequest& r) {
    if (r.method == "HEAD") {
      curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else if (r.method != "GET") {
      curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, r.method.c_str());
      if (r.reader) {
        curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(curl, CURLOPT_READFUNCTION, &Handle::on_read);
        curl_easy_setopt(curl, CURLOPT_READDATA, this);
        curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(r.reader_size));
      } else {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, r.body.data());
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
      }
    }
  }

  static std::size_t on_header(char* data, std::size_t size, std::size_t n, void* self) {
    auto* h = static_cast<Handle*>(self);
    std::string_view line(data, size * n);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    if (line.starts_with("HTTP/")) {  // a new response (after 100 Continue, say)
      h->response.headers.clear();
      auto sp = line.find(' ');
      h->response.status =
          sp == line.npos ? 0 : std::atol(std::string(line.substr(sp + 1)).c_str());
    } else if (auto colon = line.find(':'); colon != line.npos) {
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      h->response.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
    }
    return size * n;
  }

  static std::size_t on_body(char* data, std::size_t size, std::size_t n, void* self) {
    auto* h = static_cast<Handle*>(self);
    std::string_view bytes(data, size * n);
    try {
      if (h->sink && *h->sink && h->is_2xx()) {
        if (!h->body_started && h->request->on_headers) {
          h->request->on_headers(h->response.status, h->response.headers);
        }
        h->body_started = true;
        (*h->sink)(bytes);
      } else {
        if (h->response.body.size() + bytes.size() > h->max_body) {
          throw Error(describe("read response", "body",
                               "larger than " + std::to_string(h->max_body) + " bytes"));
        }
        h->response.body.append(bytes);
      }
    } catch (...) {
      h->error = std::current_exception();
      return 0;
    }
    return size * n;
  }

  static std::size_t on_read(char* data, std::size_t size, std::size_t n, void* self) {
    auto* h = static_cast<Handle*>(self);
    try {
      return (*h->reader)(data, size * n);
    } catch (...) {
      h->error = std::current_exception();
      return CURL_READFUNC_ABORT;
    }
  }
};

std::optional<std::string> HttpResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (ascii_iequals(k, name)) return v;
  }
  return std::nullopt;
}

HttpClient::HttpClient(HttpSettings settings)
    : settings_(std::move(settings)), handle_(std::make_unique<Handle>()) {}
HttpClient::~HttpClient() = default;
HttpClient::HttpClient(HttpClient&&) noexcept = default;
HttpClient& HttpClient::operator=(HttpClient&&) noexcept = default;

HttpResponse HttpClient::send(const HttpRequest& request, const BodySink& sink,
                              std::size_t max_body) {
  HttpRequest current = request;
  const std::string origin = url_origin(request.url);
  for (int hop = 0;; ++hop) {
    HttpResponse response = send_once(current, sink, max_body);
    bool redirect = response.status == 301 || response.status == 302 || response.status == 303 ||
                    response.status == 307 || response.status == 308;
    bool follow = current.method == "GET" || current.method == "HEAD";
    auto location = response.header("Location");
    if (!redirect || !follow || !location) return response;
    if (hop >= settings_.max_redirects) {
      throw Error(describe("fetch", request.url,
                           "more than " + std::to_string(settings_.max_redirects) + " redirects"));
    }
    current.url = resolve_url(current.url, *location);
    if (url_origin(current.url) != origin) {
      std::erase_if(current.headers, [](const auto& h) { return drop_on_redirect(h.first); });
    }
  }
}

HttpResponse HttpClient::send_once(const HttpRequest& request, const BodySink& sink,
                                   std::size_t max_body) {
  url_origin(request.url);  // refuses anything but http(s)
  Handle& h = *handle_;
  h.reset(request, sink, max_body);
  h.set_connection(request.url, settings_);
  h.set_method(request);
  CURL* c = h.curl;
  curl_slist* list = curl_slist_append(nullptr, "Expect:");
  for (const auto& [k, v] : request.headers) {
    list = curl_slist_append(list, (k + ": " + v).c_str());
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
  CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(list);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);
  if (h.error) std::rethrow_exception(h.error);
  if (rc != CURLE_OK) {
    std::string cause = h.error_buffer[0] ? h.error_buffer : curl_easy_strerror(rc);
    spdlog::debug("http {} {}: {}", request.method, loggable_url(request.url), cause);
    throw TransportError(describe(request.method, request.url, cause), classify(rc));
  }
  spdlog::debug("http {} {} -> {}", request.method, loggable_url(request.url), h.response.status);
  return std::move(h.response);
}

std::string url_origin(std::string_view text) {
  Url url;
  parse_url(url, text);
  return ascii_lower(url.get(CURLUPART_SCHEME)) + "://" + ascii_lower(url.get(CURLUPART_HOST)) +
         ":" + url.get(CURLUPART_PORT, CURLU_DEFAULT_PORT);
}

std::string url_host(std::string_view text) {
  Url url;
  parse_url(url, text);
  std::string host = ascii_lower(url.get(CURLUPART_HOST));
  if (host.size() > 1 && host.front() == '[') host = host.substr(1, host.size() - 2);
  return host;
}

std::string resolve_url(std::string_view base, std::string_view location) {
  Url url;
  parse_url(url, base);
  std::string loc(location);
  if (curl_url_set(url.u, CURLUPART_URL, loc.c_str(), 0) != CURLUE_OK) {
    throw Error(describe("follow redirect", location, "malformed URL"));
  }
  std::string out = url.get(CURLUPART_URL);
  url_origin(out);
  return out;
}

bool is_retryable_status(long status) { return status == 429 || (status >= 500 && status < 600); }

std::optional<std::int64_t> parse_http_date(std::string_view text) {
  std::string s(text);
  time_t t = curl_getdate(s.c_str(), nullptr);
  if (t == -1) return std::nullopt;
  return static_cast<std::int64_t>(t);
}

Download download_to_fd(HttpClient& client, const std::string& url, int fd,
                        oci::DigestAlgorithm algorithm, std::uint64_t max_size,
                        const std::function<bool()>& keep_going) {
  Download out;
  oci::Hasher hasher(algorithm);
  auto too_large = [&] {
    return Error(describe("download", url, "larger than " + std::to_string(max_size) + " bytes"));
  };
  HttpRequest request;
  request.url = url;
  request.on_headers = [&](long, const HttpHeaders& headers) {
    for (const auto& [k, v] : headers) {
      if (!ascii_iequals(k, "Content-Length")) continue;
      char* end = nullptr;
      unsigned long long n = std::strtoull(v.c_str(), &end, 10);
      if (end != v.c_str() && n > max_size) throw too_large();
    }
  };
  BodySink sink = [&](std::string_view bytes) {
    if (keep_going && !keep_going()) throw Error(describe("download", url, "interrupted"));
    if (bytes.size() > max_size - out.size) throw too_large();
    for (std::size_t done = 0; done < bytes.size();) {
      ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0)
        throw Error(describe("download", url, std::string("write: ") + std::strerror(errno)));
      done += static_cast<std::size_t>(w);
    }
    hasher.update(bytes);
    out.size += bytes.size();
  };
  out.response = client.send(request, sink, 1024 * 1024);
  if (out.response.status < 200 || out.response.status >= 300) {
    throw Error(describe("download", url,
                         "the server answered HTTP " + std::to_string(out.response.status)));
  }
  out.response.body.clear();
  out.digest = hasher.finish();
  return out;
}

}  // namespace mkimg::registry
