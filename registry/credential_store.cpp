// config.json read/modify/write with nlohmann-json; helpers through credential_helper.h.
#include "registry/credential_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.h"
#include "common/fd.h"
#include "common/in_root.h"
#include "registry/credential_helper.h"
#include "registry/encoding.h"

namespace mkimg::registry {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::string_view kDockerHubKey = "https://index.docker.io/v1/";

/// "https://host:5000/v1/" -> "host:5000"; a bare "host" stays.
std::string key_host(std::string_view key) {
  if (auto p = key.find("://"); p != key.npos) key.remove_prefix(p + 3);
  if (auto slash = key.find('/'); slash != key.npos) key = key.substr(0, slash);
  return std::string(key);
}

json load(const fs::path& file) {
  std::error_code ec;
  if (!fs::exists(file, ec)) return json::object();
  std::ifstream in(file, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  json j = json::parse(ss.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    throw Error(describe("read docker config", file.string(), "not a JSON object"));
  }
  return j;
}

void save(const fs::path& file, const json& j) {
  fs::create_directories(file.parent_path());
  // Credentials: the file is the user's alone.
  write_file_atomic(file, j.dump(1, '\t') + "\n", Flush::kYes, {}, 0600);
}

/// The helper configured for `key`: credHelpers by host, else credsStore; "" for none.
std::string helper_for(const json& j, std::string_view domain) {
  std::string host = key_host(credential_key(domain));
  if (auto h = j.find("credHelpers"); h != j.end() && h->is_object()) {
    for (const auto& [k, v] : h->items()) {
      if (v.is_string() && (k == credential_key(domain) || key_host(k) == host)) return v;
    }
  }
  if (auto s = j.find("credsStore"); s != j.end() && s->is_string()) return *s;
  return "";
}

std::optional<Credential> from_helper(const std::string& helper, std::string_view domain) {
  HelperResult r = run_credential_helper(helper, "get", credential_key(domain));
  if (r.exit_code != 0) {
    if (r.out.find("credentials not found") != std::string::npos) return std::nullopt;
    throw Error(describe("get credentials from", "docker-credential-" + helper,
                         "exit status " + std::to_string(r.exit_code) + ": " + r.out));
  }
  json j = json::parse(r.out, nullptr, false);
  if (!j.is_object() || !j.value("Secret", json()).is_string()) {
    throw Error(
        describe("get credentials from", "docker-credential-" + helper, "malformed answer"));
  }
  Credential c{j.value("Username", ""), j.value("Secret", "")};
  if (c.username.empty() && c.secret.empty()) return std::nullopt;
  return c;
}

std::optional<Credential> from_auths(const json& j, std::string_view domain, const fs::path& file) {
  auto auths = j.find("auths");
  if (auths == j.end() || !auths->is_object()) return std::nullopt;
  std::string key = credential_key(domain), host = key_host(key);
  const json* entry = nullptr;
  if (auths->contains(key)) entry = &(*auths)[key];
  for (const auto& [k, v] : auths->items()) {
    if (!entry && key_host(k) == host) entry = &v;
  }
  if (!entry || !entry->is_object()) return std::nullopt;
  if (auto a = entry->find("auth"); a != entry->end() && a->is_string() && !a->empty()) {
    auto decoded = base64_decode(a->get<std::string>());
    auto colon = decoded ? decoded->find(':') : std::string::npos;
    if (colon == std::string::npos) {
      throw Error(describe("read docker config", file.string(), "malformed auth for " + key));
    }
    return Credential{decoded->substr(0, colon), decoded->substr(colon + 1)};
  }
  if (entry->value("username", json()).is_string() &&
      entry->value("password", json()).is_string()) {
    return Credential{(*entry)["username"], (*entry)["password"]};
  }
  return std::nullopt;
}

/// Removes every `auths` entry that names the same host as `domain`; true when one did.
bool erase_auths(json& j, std::string_view domain) {
  auto auths = j.find("auths");
  if (auths == j.end() || !auths->is_object()) return false;
  std::string host = key_host(credential_key(domain));
  std::vector<std::string> gone;
  for (const auto& [k, v] : auths->items()) {
    if (key_host(k) == host) gone.push_back(k);
  }
  for (const auto& k : gone) auths->erase(k);
  return !gone.empty();
}

}  // namespace

fs::path docker_config_file(const std::string& dir) {
  if (!dir.empty()) return fs::path(dir) / "config.json";
  if (const char* env = std::getenv("DOCKER_CONFIG"); env && *env) {
    return fs::path(env) / "config.json";
  }
  const char* home = std::getenv("HOME");
  return fs::path(home && *home ? home : "/root") / ".docker" / "config.json";
}

std::string credential_key(std::string_view domain) {
  if (domain == "docker.io" || domain == "index.docker.io" || domain == "registry-1.docker.io") {
    return std::string(kDockerHubKey);
  }
  return std::string(domain);
}

std::optional<Credential> find_credential(const fs::path& config_file, std::string_view domain) {
  json j = load(config_file);
  if (std::string helper = helper_for(j, domain); !helper.empty()) {
    return from_helper(helper, domain);
  }
  return from_auths(j, domain, config_file);
}

void store_credential(const fs::path& config_file, std::string_view domain,
                      const Credential& credential) {
  json j = load(config_file);
  std::string key = credential_key(domain);
  if (std::string helper = helper_for(j, domain); !helper.empty()) {
    json in = {
        {"ServerURL", key}, {"Username", credential.username}, {"Secret", credential.secret}};
    HelperResult r = run_credential_helper(helper, "store", in.dump());
    if (r.exit_code != 0) {
      throw Error(describe("store credentials with", "docker-credential-" + helper, r.out));
    }
    return;
  }
  erase_auths(j, domain);
  if (!j.contains("auths") || !j["auths"].is_object()) j["auths"] = json::object();
  j["auths"][key] = {{"auth", base64_encode(credential.username + ":" + credential.secret)}};
  save(config_file, j);
}

bool erase_credential(const fs::path& config_file, std::string_view domain) {
  json j = load(config_file);
  if (std::string helper = helper_for(j, domain); !helper.empty()) {
    HelperResult r = run_credential_helper(helper, "erase", credential_key(domain));
    return r.exit_code == 0;
  }
  bool erased = erase_auths(j, domain);
  if (erased) save(config_file, j);
  return erased;
}

}  // namespace mkimg::registry
