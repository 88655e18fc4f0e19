// The challenge flow; the token request is a GET on the realm (the form every registry
// accepts), with the credential as Basic when there is one.
#include "registry/auth_session.h"

#include <spdlog/spdlog.h>
#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "registry/auth_challenge.h"
#include "registry/encoding.h"

namespace mkimg::registry {
namespace {

std::string scope_key(const std::vector<std::string>& scopes) {
  std::vector<std::string> sorted = scopes;
  std::sort(sorted.begin(), sorted.end());
  std::string key;
  for (const auto& s : sorted) key += s + " ";
  return key;
}

const Challenge* pick(const std::vector<Challenge>& challenges) {
  for (const auto& c : challenges) {
    if (c.scheme == AuthScheme::kBearer) return &c;
  }
  return challenges.empty() ? nullptr : &challenges.front();
}

}  // namespace

std::string repository_scope(std::string_view path, std::string_view actions) {
  return "repository:" + std::string(path) + ":" + std::string(actions);
}

AuthSession::AuthSession(std::string registry, std::optional<Credential> credential,
                         HttpSettings http, HttpAllowed http_allowed)
    : registry_(std::move(registry)),
      credential_(std::move(credential)),
      http_(std::move(http)),
      http_allowed_(std::move(http_allowed)) {}

std::optional<std::string> AuthSession::authorization(
    const std::vector<std::string>& scopes) const {
  std::lock_guard lock(mutex_);
  std::string key = scope_key(scopes);
  for (const auto& [k, v] : tokens_) {
    if (k == key) return v;
  }
  return basic_;
}

void AuthSession::answer(const HttpResponse& unauthorized, const std::vector<std::string>& scopes) {
  auto header = unauthorized.header("WWW-Authenticate");
  std::vector<Challenge> challenges = parse_challenges(header.value_or(""));
  const Challenge* c = pick(challenges);
  spdlog::debug("auth challenge from {}: {}", registry_, header.value_or("(none)"));
  if (!c) {
    throw Error(describe("authenticate to", registry_,
                         "401 Unauthorized without a Basic or Bearer challenge"));
  }
  if (c->scheme == AuthScheme::kBasic) {
    if (!credential_) {
      throw Error(
          describe("authenticate to", registry_,
                   "401 Unauthorized: credentials required (run `mkimg login " + registry_ + "`)"));
    }
    std::lock_guard lock(mutex_);
    basic_ = "Basic " + base64_encode(credential_->username + ":" + credential_->secret);
    return;
  }
  std::string token = fetch_token(c->param("realm"), c->param("service"), scopes);
  std::lock_guard lock(mutex_);
  std::string key = scope_key(scopes);
  std::erase_if(tokens_, [&](const auto& t) { return t.first == key; });
  tokens_.emplace_back(key, "Bearer " + token);
}

std::string AuthSession::fetch_token(const std::string& realm, const std::string& service,
                                     const std::vector<std::string>& scopes) {
  if (realm.empty())
    throw Error(describe("authenticate to", registry_, "Bearer challenge without realm"));
  std::string scheme = url_origin(realm).substr(0, url_origin(realm).find(':'));
  if (scheme != "https" && !http_allowed_(url_host(realm))) {
    throw Error(describe("authenticate to", registry_, "token realm `" + realm + "` is not HTTPS"));
  }
  std::string url = realm + (realm.find('?') == std::string::npos ? "?" : "&");
  url += "service=" + percent_encode(service);
  for (const auto& s : scopes) url += "&scope=" + percent_encode(s);
  HttpRequest req{"GET", url, {}, {}, {}, 0};
  if (credential_) {
    req.headers.emplace_back("Authorization", "Basic " + base64_encode(credential_->username + ":" +
                                                                       credential_->secret));
  }
  HttpClient client(http_);
  HttpResponse resp = client.send(req, {}, 1 << 20);
  if (resp.status == 401 || resp.status == 403) {
    throw Error(describe("authenticate to", registry_,
                         std::to_string(resp.status) +
                             " Unauthorized from token service: wrong username or password"));
  }
  if (resp.status != 200) {
    throw Error(describe("get token from", realm, "HTTP " + std::to_string(resp.status)));
  }
  auto j = nlohmann::json::parse(resp.body, nullptr, false);
  std::string token;
  if (j.is_object()) {
    if (j.contains("token") && j["token"].is_string())
      token = j["token"];
    else if (j.contains("access_token") && j["access_token"].is_string())
      token = j["access_token"];
  }
  if (token.empty()) throw Error(describe("get token from", realm, "no token in the answer"));
  return token;
}

}  // namespace mkimg::registry
