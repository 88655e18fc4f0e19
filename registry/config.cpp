// registries.yaml with yaml-cpp, and the transport rules.
#include "registry/config.h"

#include <arpa/inet.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/error.h"

namespace mkimg::registry {
namespace {

namespace fs = std::filesystem;

/// "host:port" -> "host"; "[::1]:5000" -> "::1".
std::string strip_port(std::string_view host) {
  if (host.starts_with('[')) {
    auto close = host.find(']');
    return std::string(host.substr(1, close == host.npos ? host.npos : close - 1));
  }
  if (std::count(host.begin(), host.end(), ':') == 1) host = host.substr(0, host.find(':'));
  return std::string(host);
}

RegistryHostConfig parse_entry(const YAML::Node& node) {
  RegistryHostConfig entry;
  if (!node.IsMap() || !node["host"]) throw Error("each registry needs a `host`");
  entry.host = node["host"].as<std::string>();
  if (node["insecure"]) entry.insecure = node["insecure"].as<bool>();
  if (node["ca"]) entry.ca_file = node["ca"].as<std::string>();
  if (node["mirrors"]) {
    for (const auto& m : node["mirrors"]) entry.mirrors.push_back(m.as<std::string>());
  }
  for (const auto& kv : node) {
    auto key = kv.first.as<std::string>();
    if (key != "host" && key != "insecure" && key != "ca" && key != "mirrors") {
      throw Error("unknown key `" + key + "` in registry " + entry.host);
    }
  }
  return entry;
}

fs::path default_config_path() {
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg && *xdg) {
    return fs::path(xdg) / "mkimg/registries.yaml";
  }
  const char* home = std::getenv("HOME");
  return fs::path(home && *home ? home : "/root") / ".config/mkimg/registries.yaml";
}

const RegistryHostConfig* find_host(const RegistriesConfig& config, std::string_view host) {
  for (const auto& r : config.registries) {
    if (r.host == host) return &r;
  }
  return nullptr;
}

bool listed_insecure(std::string_view host, const RegistriesConfig& config,
                     const RegistryOptions& options) {
  const auto& list = options.insecure_registries;
  if (std::find(list.begin(), list.end(), host) != list.end()) return true;
  if (std::find(list.begin(), list.end(), strip_port(host)) != list.end()) return true;
  const RegistryHostConfig* entry = find_host(config, host);
  return entry && entry->insecure;
}

/// HTTPS (and HTTP when allowed) endpoints of one host.
void add_host_endpoints(std::vector<Endpoint>& out, std::string_view host, EndpointRole role,
                        const RegistriesConfig& config, const RegistryOptions& options) {
  std::string api = api_host(host);
  HttpSettings http;
  http.ca_file = options.tls_ca_file;
  if (const RegistryHostConfig* entry = find_host(config, host); entry && !entry->ca_file.empty()) {
    http.ca_file = entry->ca_file;
  }
  http.connect_timeout_seconds = options.timeout_seconds;
  http.stall_timeout_seconds = options.timeout_seconds;
  bool insecure = listed_insecure(host, config, options);
  if (insecure) http.verify = TlsVerify::kNo;
  bool http_ok = insecure || is_loopback(host);
  out.push_back(Endpoint{"https://" + api, std::string(host), http, role, http_ok});
  if (http_ok) {
    out.push_back(Endpoint{"http://" + api, std::string(host), http, role, false});
  }
}

}  // namespace

RegistriesConfig parse_registries_config(std::string_view yaml, std::string_view origin) {
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    RegistriesConfig config;
    if (root.IsNull()) return config;
    if (!root.IsMap()) throw Error("the top level must be a map");
    for (const auto& kv : root) {
      if (kv.first.as<std::string>() != "registries") {
        throw Error("unknown key `" + kv.first.as<std::string>() + "`");
      }
    }
    if (root["registries"]) {
      for (const auto& node : root["registries"]) config.registries.push_back(parse_entry(node));
    }
    return config;
  } catch (const YAML::Exception& e) {
    throw Error(describe("parse registries config", origin, e.what()));
  } catch (const Error& e) {
    throw Error(describe("parse registries config", origin, e.what()));
  }
}

RegistriesConfig load_registries_config(const RegistryOptions& options) {
  fs::path path = options.registries_config;
  bool explicit_path = !path.empty();
  if (!explicit_path) {
    if (const char* env = std::getenv("MKIMG_REGISTRIES_CONFIG"); env && *env) {
      path = env;
      explicit_path = true;
    } else {
      path = default_config_path();
    }
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (explicit_path)
      throw Error(describe("read registries config", path.string(), "cannot open"));
    return {};
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_registries_config(ss.str(), path.string());
}

std::string api_host(std::string_view domain) {
  if (domain == "docker.io" || domain == "index.docker.io") return "registry-1.docker.io";
  return std::string(domain);
}

bool is_loopback(std::string_view host) {
  std::string h = strip_port(host);
  if (h == "localhost" || h == "::1") return true;
  in_addr addr{};
  return ::inet_pton(AF_INET, h.c_str(), &addr) == 1 && (ntohl(addr.s_addr) >> 24) == 127;
}

bool allows_http(std::string_view host, const RegistriesConfig& config,
                 const RegistryOptions& options) {
  return is_loopback(host) || listed_insecure(host, config, options);
}

std::vector<Endpoint> endpoints_for(std::string_view domain, Purpose purpose,
                                    const RegistriesConfig& config,
                                    const RegistryOptions& options) {
  std::vector<Endpoint> out;
  if (purpose == Purpose::kPull) {
    if (const RegistryHostConfig* entry = find_host(config, domain)) {
      for (const auto& m : entry->mirrors) {
        add_host_endpoints(out, m, EndpointRole::kMirror, config, options);
      }
    }
  }
  add_host_endpoints(out, domain, EndpointRole::kRegistry, config, options);
  return out;
}

}  // namespace mkimg::registry
