// The distribution API calls. Every answer is checked for its status; registry error bodies
// ({"errors":[{"code","message"}]}) become the cause of the thrown message.
#include "registry/client.h"

#include <spdlog/spdlog.h>
#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "common/error.h"
#include "oci/image.h"
#include "oci/media_types.h"
#include "registry/credential_store.h"

namespace mkimg::registry {
namespace {

void back_off(int attempt) {
  std::this_thread::sleep_for(std::chrono::milliseconds(200 << std::min(attempt, 5)));
}

std::string strip_params(std::string_view content_type) {
  auto semi = content_type.find(';');
  std::string_view t = content_type.substr(0, semi);
  while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
  return std::string(t);
}

std::string with_query(std::string_view location, std::string_view query) {
  return std::string(location) + (location.find('?') == location.npos ? "?" : "&") +
         std::string(query);
}

void require_status(const HttpResponse& r, std::initializer_list<long> ok, std::string_view verb,
                    std::string_view object) {
  for (long s : ok) {
    if (r.status == s) return;
  }
  throw Error(describe(verb, object, describe_http_error(r)));
}

/// The HTTPS endpoints of insecure registries that failed their TLS handshake in this process:
/// a build connects to one registry several times (base, cache, push), and each failed
/// handshake costs a round trip and a delayed ACK (~50 ms on loopback).
class PlainHttpMemo {
 public:
  bool known(const std::string& url) {
    std::lock_guard lock(mutex_);
    return urls_.count(url) != 0;
  }
  void add(const std::string& url) {
    std::lock_guard lock(mutex_);
    urls_.insert(url);
  }

 private:
  std::mutex mutex_;
  std::set<std::string> urls_;
};

PlainHttpMemo& plain_http_memo() {
  static PlainHttpMemo memo;
  return memo;
}

/// Pings each endpoint in order; returns the first that answers with its /v2/ response.
std::pair<Endpoint, HttpResponse> ping(std::string_view domain, Access access,
                                       const RegistryOptions& options) {
  RegistriesConfig config = load_registries_config(options);
  Purpose purpose = access == Access::kPull ? Purpose::kPull : Purpose::kPush;
  std::vector<Endpoint> endpoints = endpoints_for(domain, purpose, config, options);
  std::optional<TransportError> last;
  std::string refused_tls;
  for (std::size_t i = 0; i < endpoints.size(); ++i) {
    const Endpoint& e = endpoints[i];
    if (e.fallback_on_tls_failure && i + 1 < endpoints.size() &&
        plain_http_memo().known(e.base_url)) {
      continue;
    }
    try {
      HttpClient http(e.http);
      HttpResponse r = http.send({"GET", e.base_url + "/v2/", {}, {}, {}, 0, {}});
      if (r.status == 200 || r.status == 401) {
        // Remembered only once plain HTTP answered: a registry that was down stays unknown.
        if (!refused_tls.empty()) plain_http_memo().add(refused_tls);
        return {e, std::move(r)};
      }
      if (e.role == EndpointRole::kMirror) continue;
      throw Error(
          describe("connect to", e.base_url, describe_http_error(r) + " (not an OCI registry?)"));
    } catch (const TransportError& err) {
      last = err;
      bool tls_refused =
          e.fallback_on_tls_failure && err.kind() != TransportError::Kind::kCertificate;
      if (tls_refused) refused_tls = e.base_url;
      if (e.role != EndpointRole::kMirror && !tls_refused) throw;
    }
  }
  throw *last;
}

}  // namespace

std::string manifest_accept_header() {
  std::string out;
  for (auto t : {oci::media_type::kOciManifest, oci::media_type::kOciIndex,
                 oci::media_type::kDockerManifest, oci::media_type::kDockerManifestList}) {
    if (!out.empty()) out += ", ";
    out += t;
  }
  return out;
}

std::string describe_http_error(const HttpResponse& r) {
  std::string out = "HTTP " + std::to_string(r.status);
  if (r.status == 401) out += " Unauthorized";
  if (r.status == 403) out += " Forbidden";
  if (r.status == 404) out += " Not Found";
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_object() && j.contains("errors") && j["errors"].is_array()) {
    for (const auto& e : j["errors"]) {
      if (!e.is_object()) continue;
      out += ": " + e.value("code", std::string()) + " " + e.value("message", std::string());
    }
  }
  return out;
}

RegistryClient::RegistryClient(std::shared_ptr<RegistryConnection> connection, HttpClient http)
    : connection_(std::move(connection)), http_(std::move(http)) {}

RegistryClient RegistryClient::connect(std::string_view domain, std::string_view repository,
                                       Access access, const RegistryOptions& options,
                                       const std::vector<std::string>& extra_pull) {
  auto [endpoint, answer] = ping(domain, access, options);
  auto c = std::make_shared<RegistryConnection>();
  c->endpoint = endpoint;
  c->repository = std::string(repository);
  static constexpr const char* kActions[] = {"pull", "pull,push", "pull,delete"};
  c->scopes = {repository_scope(repository, kActions[static_cast<int>(access)])};
  for (const auto& r : extra_pull) c->scopes.push_back(repository_scope(r, "pull"));
  c->options = options;
  auto credential = find_credential(docker_config_file(options.docker_config_dir), endpoint.host);
  RegistriesConfig config = load_registries_config(options);
  c->auth = std::make_shared<AuthSession>(
      endpoint.host, credential, endpoint.http,
      [config, options](std::string_view host) { return allows_http(host, config, options); });
  if (answer.status == 401) c->auth->answer(answer, c->scopes);
  return RegistryClient(c, HttpClient(endpoint.http));
}

RegistryClient RegistryClient::clone() const {
  return RegistryClient(connection_, HttpClient(connection_->endpoint.http));
}

std::string RegistryClient::url(std::string_view path) const {
  return connection_->endpoint.base_url + "/v2/" + connection_->repository + "/" +
         std::string(path);
}

HttpResponse RegistryClient::send(HttpRequest request, const BodySink& sink, std::size_t max_body) {
  const RegistryConnection& c = *connection_;
  bool own_origin = url_origin(request.url) == url_origin(c.endpoint.base_url);
  auto attempt = [&] {
    HttpRequest r = request;
    if (auto auth = c.auth->authorization(c.scopes); auth && own_origin) {
      r.headers.emplace_back("Authorization", *auth);
    }
    return http_.send(r, sink, max_body);
  };
  HttpResponse response = attempt();
  if (response.status == 401 && own_origin) {
    c.auth->answer(response, c.scopes);
    response = attempt();
  }
  return response;
}

HttpResponse RegistryClient::send_retrying(const HttpRequest& request, std::size_t max_body) {
  for (int attempt = 0;; ++attempt) {
    try {
      HttpResponse r = send(request, {}, max_body);
      if (!is_retryable_status(r.status) || attempt >= connection_->options.retries) return r;
    } catch (const TransportError& e) {
      if (e.kind() != TransportError::Kind::kRetryable || attempt >= connection_->options.retries) {
        throw;
      }
    }
    spdlog::debug("retry {} {} (attempt {})", request.method, request.url, attempt + 2);
    back_off(attempt);
  }
}

FetchedManifest RegistryClient::get_manifest(std::string_view reference) {
  if (auto m = find_manifest(reference)) return std::move(*m);
  throw Error(describe("fetch manifest", manifest_object(reference), "not found"));
}

std::string RegistryClient::manifest_object(std::string_view reference) const {
  return connection_->endpoint.host + "/" + connection_->repository +
         (reference.starts_with("sha") ? "@" : ":") + std::string(reference);
}

std::optional<FetchedManifest> RegistryClient::find_manifest(std::string_view reference) {
  HttpRequest req{"GET", url("manifests/" + std::string(reference)), {}, {}, {}, 0, {}};
  req.headers.emplace_back("Accept", manifest_accept_header());
  HttpResponse r = send_retrying(req, oci::kMaxDocumentSize);
  std::string object = manifest_object(reference);
  if (r.status == 404) return std::nullopt;
  require_status(r, {200}, "fetch manifest", object);
  FetchedManifest m;
  m.media_type = strip_params(r.header("Content-Type").value_or(""));
  std::optional<oci::Digest> asked = oci::Digest::try_parse(reference);
  m.digest = oci::digest_of(asked ? asked->algorithm() : oci::DigestAlgorithm::kSha256, r.body);
  if (asked && *asked != m.digest) {
    throw Error(describe("fetch manifest", object,
                         "the registry sent content of digest " + m.digest.str()));
  }
  if (auto header = r.header("Docker-Content-Digest")) {
    auto told = oci::Digest::try_parse(*header);
    if (told && told->algorithm() == m.digest.algorithm() && *told != m.digest) {
      throw Error(describe("fetch manifest", object,
                           "Docker-Content-Digest " + *header + " does not match the content"));
    }
  }
  m.bytes = std::move(r.body);
  return m;
}

void RegistryClient::get_blob(const oci::Digest& digest, std::int64_t offset,
                              const std::function<void(long)>& on_start, const BodySink& sink) {
  HttpRequest req{"GET", url("blobs/" + digest.str()), {}, {}, {}, 0, {}};
  if (offset > 0) req.headers.emplace_back("Range", "bytes=" + std::to_string(offset) + "-");
  req.on_headers = [&](long status, const HttpHeaders&) { on_start(status); };
  HttpResponse r = send(req, sink);
  std::string object = connection_->repository + "@" + digest.str();
  if (r.status == 404) throw Error(describe("fetch blob", object, "not found"));
  if (is_retryable_status(r.status)) {
    throw TransportError(describe("fetch blob", object, describe_http_error(r)),
                         TransportError::Kind::kRetryable);
  }
  require_status(r, {200, 206}, "fetch blob", object);
}

std::string RegistryClient::get_small_blob(const oci::Digest& digest, std::size_t max_size) {
  HttpResponse r =
      send_retrying({"GET", url("blobs/" + digest.str()), {}, {}, {}, 0, {}}, max_size);
  std::string object = connection_->repository + "@" + digest.str();
  if (r.status == 404) throw Error(describe("fetch blob", object, "not found"));
  require_status(r, {200}, "fetch blob", object);
  if (oci::digest_of(digest.algorithm(), r.body) != digest) {
    throw Error(describe("fetch blob", object, "the content does not match the digest"));
  }
  return std::move(r.body);
}

std::vector<std::string> RegistryClient::list_tags() {
  std::vector<std::string> tags;
  std::string next = url("tags/list?n=1000");
  std::string object = connection_->endpoint.host + "/" + connection_->repository;
  while (!next.empty()) {
    HttpResponse r = send_retrying({"GET", next, {}, {}, {}, 0, {}}, oci::kMaxDocumentSize);
    if (r.status == 404) break;  // no such repository yet: no tags
    require_status(r, {200}, "list tags of", object);
    try {
      auto j = nlohmann::json::parse(r.body);
      if (auto t = j.find("tags"); t != j.end() && t->is_array()) {
        for (const auto& tag : *t) tags.push_back(tag.get<std::string>());
      }
    } catch (const std::exception& e) {
      throw Error(describe("list tags of", object, std::string("bad answer: ") + e.what()));
    }
    next.clear();
    if (auto link = r.header("Link")) {  // <url>; rel="next"
      auto open = link->find('<'), close = link->find('>');
      if (open != std::string::npos && close != std::string::npos && close > open) {
        next = resolve_url(r.url, link->substr(open + 1, close - open - 1));
      }
    }
  }
  return tags;
}

bool RegistryClient::delete_manifest(const oci::Digest& digest) {
  HttpResponse r = send({"DELETE", url("manifests/" + digest.str()), {}, {}, {}, 0, {}});
  if (r.status == 202 || r.status == 200 || r.status == 404) return true;
  if (r.status == 405 || r.status == 400 || r.status == 403) return false;  // not allowed here
  require_status(r, {202}, "delete manifest", manifest_object(digest.str()));
  return false;
}

bool RegistryClient::has_blob(const oci::Digest& digest) {
  HttpResponse r = send_retrying({"HEAD", url("blobs/" + digest.str()), {}, {}, {}, 0, {}});
  if (r.status == 404) return false;
  require_status(r, {200}, "check blob", connection_->repository + "@" + digest.str());
  return true;
}

bool RegistryClient::mount_blob(const oci::Digest& digest, std::string_view from) {
  std::string query = "mount=" + digest.str() + "&from=" + std::string(from);
  HttpResponse r = send({"POST", url("blobs/uploads/?" + query), {}, {}, {}, 0, {}});
  if (r.status == 201) return true;
  if (r.status == 202) {  // not mounted: an upload session was opened; cancel it
    if (auto loc = r.header("Location")) {
      send({"DELETE", resolve_url(r.url, *loc), {}, {}, {}, 0, {}});
    }
  }
  return false;
}

void RegistryClient::upload_blob(
    const oci::Digest& digest, std::int64_t size, std::int64_t chunk_size,
    const std::function<std::size_t(std::int64_t, char*, std::size_t)>& read) {
  std::string object = connection_->repository + "@" + digest.str();
  HttpResponse start = send({"POST", url("blobs/uploads/"), {}, {}, {}, 0, {}});
  require_status(start, {202}, "start upload of", object);
  auto loc = start.header("Location");
  if (!loc) throw Error(describe("start upload of", object, "no Location in the answer"));
  std::string location = resolve_url(start.url, *loc);
  HttpRequest put{"PUT", "", {}, {}, {}, 0, {}};
  put.headers.emplace_back("Content-Type", "application/octet-stream");
  std::int64_t offset = 0;
  if (size > chunk_size) {
    location = upload_chunks(location, size, chunk_size, read);
  } else {
    put.reader = [&](char* buf, std::size_t n) {
      std::size_t got = read(offset, buf, n);
      offset += static_cast<std::int64_t>(got);
      return got;
    };
    put.reader_size = size;
  }
  put.url = with_query(location, "digest=" + digest.str());
  HttpResponse done = send(put);
  require_status(done, {201}, "upload blob", object);
}

std::string RegistryClient::upload_chunks(
    std::string location, std::int64_t size, std::int64_t chunk_size,
    const std::function<std::size_t(std::int64_t, char*, std::size_t)>& read) {
  for (std::int64_t begin = 0; begin < size; begin += chunk_size) {
    std::int64_t length = std::min(chunk_size, size - begin), offset = begin;
    HttpRequest patch{"PATCH", location, {}, {}, {}, length, {}};
    patch.headers.emplace_back("Content-Type", "application/octet-stream");
    patch.headers.emplace_back("Content-Range",
                               std::to_string(begin) + "-" + std::to_string(begin + length - 1));
    patch.reader = [&](char* buf, std::size_t n) {
      std::size_t want = static_cast<std::size_t>(
          std::min<std::int64_t>(static_cast<std::int64_t>(n), begin + length - offset));
      std::size_t got = want ? read(offset, buf, want) : 0;
      offset += static_cast<std::int64_t>(got);
      return got;
    };
    HttpResponse r = send(patch);
    require_status(r, {202}, "upload chunk to", connection_->repository);
    if (auto loc = r.header("Location")) location = resolve_url(r.url, *loc);
  }
  return location;
}

void RegistryClient::put_manifest(std::string_view reference, std::string_view bytes,
                                  std::string_view media_type) {
  HttpRequest req{"PUT", url("manifests/" + std::string(reference)), {}, std::string(bytes), {}, 0,
                  {}};
  req.headers.emplace_back("Content-Type", std::string(media_type));
  HttpResponse r = send_retrying(req);
  std::string object = connection_->repository + ":" + std::string(reference);
  require_status(r, {200, 201}, "put manifest", object);
  if (auto header = r.header("Docker-Content-Digest")) {
    auto told = oci::Digest::try_parse(*header);
    if (told && *told != oci::sha256_of(bytes)) {
      throw Error(describe("put manifest", object, "the registry stored digest " + *header));
    }
  }
}

}  // namespace mkimg::registry
