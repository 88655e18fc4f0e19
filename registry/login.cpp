// Login: ping /v2/, answer the challenge with the credential, ping again with it.
#include "registry/login.h"

#include "common/error.h"
#include "registry/auth_session.h"
#include "registry/client.h"
#include "registry/config.h"
#include "registry/http_client.h"

namespace mkimg::registry {
namespace {

/// Pings `e`; returns the answer, or nullopt to try the next endpoint.
std::optional<HttpResponse> ping(const Endpoint& e) {
  try {
    HttpClient http(e.http);
    return http.send({"GET", e.base_url + "/v2/", {}, {}, {}, 0, {}});
  } catch (const TransportError& err) {
    if (e.fallback_on_tls_failure && err.kind() != TransportError::Kind::kCertificate) {
      return std::nullopt;
    }
    throw;
  }
}

void check(const Endpoint& e, const HttpResponse& first, const Credential& credential,
           const RegistriesConfig& config, const RegistryOptions& options) {
  if (first.status == 200) return;  // the registry wants no credential; keep it anyway
  if (first.status != 401) throw Error(describe_http_error(first) + " from " + e.base_url + "/v2/");
  AuthSession session(e.host, credential, e.http,
                      [&](std::string_view host) { return allows_http(host, config, options); });
  session.answer(first, {});
  HttpRequest req{"GET", e.base_url + "/v2/", {}, {}, {}, 0, {}};
  if (auto auth = session.authorization({})) req.headers.emplace_back("Authorization", *auth);
  HttpResponse again = HttpClient(e.http).send(req);
  if (again.status == 401) throw Error("401 Unauthorized: wrong username or password");
  if (again.status != 200) throw Error(describe_http_error(again) + " from " + e.base_url + "/v2/");
}

}  // namespace

std::string login_domain(std::string_view server) {
  if (auto p = server.find("://"); p != server.npos) server.remove_prefix(p + 3);
  if (auto slash = server.find('/'); slash != server.npos) server = server.substr(0, slash);
  if (server == "index.docker.io" || server == "registry-1.docker.io" || server.empty()) {
    return "docker.io";
  }
  return std::string(server);
}

void login(std::string_view server, const Credential& credential, const RegistryOptions& options) {
  std::string domain = login_domain(server);
  try {
    RegistriesConfig config = load_registries_config(options);
    for (const Endpoint& e : endpoints_for(domain, Purpose::kPush, config, options)) {
      auto first = ping(e);
      if (!first) continue;
      check(e, *first, credential, config, options);
      store_credential(docker_config_file(options.docker_config_dir), domain, credential);
      return;
    }
    throw Error("no endpoint answered");
  } catch (const std::exception& e) {
    throw with_context("login `" + domain + "`", e);
  }
}

bool logout(std::string_view server, const RegistryOptions& options) {
  std::string domain = login_domain(server);
  try {
    return erase_credential(docker_config_file(options.docker_config_dir), domain);
  } catch (const std::exception& e) {
    throw with_context("logout `" + domain + "`", e);
  }
}

}  // namespace mkimg::registry
