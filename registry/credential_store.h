// Registry credentials in Docker's client config file, ~/.docker/config.json (or
// $DOCKER_CONFIG/config.json), read and written the way Docker does:
//   {"auths": {"registry.example.com": {"auth": "<base64 user:password>"}},
//    "credHelpers": {"gcr.io": "gcloud"}, "credsStore": "pass"}
// A credHelpers entry (else credsStore) names a host program docker-credential-<name>, run
// from the host's PATH (never from an image) with the protocol get/store/erase on stdin.
// Docker Hub's key is "https://index.docker.io/v1/"; other keys are host[:port], and an
// entry written as a URL ("https://host/v1/") matches its host. The file is replaced
// atomically (temp file, fsync, rename) with mode 0600, keeping every other key.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace mkimg::registry {

/// A user name and its password (or token) for one registry.
struct Credential {
  std::string username;
  std::string secret;

  friend bool operator==(const Credential&, const Credential&) = default;
};

/// The config.json to use: `dir`/config.json when `dir` is set, else $DOCKER_CONFIG, else
/// ~/.docker.
std::filesystem::path docker_config_file(const std::string& dir = "");

/// The key a registry domain has in config.json ("docker.io" -> the Docker Hub URL).
std::string credential_key(std::string_view domain);

/// The credential for `domain` (a reference's domain: "docker.io", "127.0.0.1:5000"), from a
/// credential helper or `auths`; nullopt when none. Throws mkimg::Error for a malformed file
/// or a failing helper.
std::optional<Credential> find_credential(const std::filesystem::path& config_file,
                                          std::string_view domain);

/// Saves `credential` for `domain` (through the helper when one is configured).
void store_credential(const std::filesystem::path& config_file, std::string_view domain,
                      const Credential& credential);

/// Removes the credential for `domain`; returns false when there was none.
bool erase_credential(const std::filesystem::path& config_file, std::string_view domain);

}  // namespace mkimg::registry
