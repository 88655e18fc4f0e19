// A real registry for tests: Debian's `docker-registry` (distribution 2.8) started on a free
// loopback port with a temporary storage directory, in one of four modes (plain HTTP, HTTPS
// with a self-signed CA, htpasswd basic auth over HTTPS, token auth over HTTPS with a small
// token issuer from tests/support/token_issuer.py), deleting manifests when asked unless
// made with RegistryDeletes::kRefused, and stopped (SIGKILL, then reaped) in the destructor.
// FaultProxy puts tests/support/fault_proxy.py in front of it to corrupt, truncate, stall or
// redirect blob downloads.
//
//   mkimg::testing::Registry reg(mkimg::testing::RegistryMode::kHttp);
//   run_mkimg(root, {"push", "img", reg.host() + "/base:1"});   // 127.0.0.1:PORT/base:1
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/harness.h"

namespace mkimg::testing {

/// A loopback TCP port nobody listens on right now.
inline int free_port() {
  int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(s);
    throw std::runtime_error("free_port: bind failed");
  }
  ::close(s);
  return ntohs(a.sin_port);
}

/// True once something accepts connections on 127.0.0.1:port.
inline bool port_open(int port) {
  int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(s);
  return ok;
}

/// Runs a shell command and throws with its output when it fails.
inline void must_run(const std::string& cmd) {
  CommandResult r = run({"sh", "-c", cmd});
  if (r.exit_code != 0) throw std::runtime_error(cmd + ": " + r.all());
}

/// Starts a helper python script that writes its port to <dir>/<name>.port; returns the port.
inline int start_python_helper(ChildProcess& child, const fs::path& dir, const std::string& name,
                               std::vector<std::string> args) {
  fs::path port_file = dir / (name + ".port");
  fs::remove(port_file);
  fs::path script = source_dir() / "tests/support" / (name + ".py");
  args.insert(args.begin(), {"python3", script.string(), "--port-file", port_file.string()});
  child = ChildProcess(args, dir / (name + ".out"));
  if (!wait_until([&] { return fs::exists(port_file); })) {
    throw std::runtime_error(name + " did not start: " + read_file(dir / (name + ".out")));
  }
  return std::stoi(read_file(port_file));
}

/// How the test registry is reached.
enum class RegistryMode { kHttp, kHttps, kHttpsBasicAuth, kHttpsTokenAuth };

/// Whether the registry deletes manifests when asked (docker-registry's storage.delete.enabled,
/// REGISTRY_STORAGE_DELETE_ENABLED); without it a DELETE is answered 405 UNSUPPORTED.
enum class RegistryDeletes { kAllowed, kRefused };

/// docker-registry on 127.0.0.1:<free port>, storage in a temp dir; see the file comment.
class Registry {
 public:
  explicit Registry(RegistryMode mode, RegistryDeletes deletes = RegistryDeletes::kAllowed)
      : mode_(mode), deletes_(deletes) {
    if (mode_ != RegistryMode::kHttp) make_tls();
    if (mode_ == RegistryMode::kHttpsBasicAuth) {
      must_run("htpasswd -Bbn " + user() + " " + password() + " > " + (dir_ / "htpasswd").string());
    }
    if (mode_ == RegistryMode::kHttpsTokenAuth) start_token_issuer();
    start();
  }
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  /// "127.0.0.1:PORT", the registry part of a reference.
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  /// "http" or "https".
  std::string scheme() const { return mode_ == RegistryMode::kHttp ? "http" : "https"; }
  std::string url() const { return scheme() + "://" + host(); }
  /// The CA that signed the server certificate (HTTPS modes).
  fs::path ca_file() const { return dir_ / "ca.crt"; }
  std::string user() const { return "tester"; }
  std::string password() const { return "s3cret-pw"; }
  const fs::path& dir() const { return dir_.path(); }
  /// What the token issuer saw, one request a line (token mode).
  std::string token_log() const { return read_file(dir_ / "token.log"); }
  /// The skopeo/curl flags that trust this registry.
  std::vector<std::string> skopeo_tls_flags(const std::string& which = "") const {
    if (mode_ == RegistryMode::kHttp) return {"--" + which + "tls-verify=false"};
    return {"--" + which + "cert-dir=" + (dir_ / "certs").string()};
  }
  std::string skopeo_creds() const { return user() + ":" + password(); }

  /// Kills the registry (SIGKILL); the storage stays.
  void stop() { process_.kill(); }
  /// (Re)starts on the same port and storage; waits until it accepts connections.
  void start() {
    if (port_ == 0) port_ = free_port();
    write_config();
    process_ = ChildProcess({"docker-registry", "serve", (dir_ / "config.yml").string()},
                            dir_ / "registry.log");
    if (!wait_until([&] { return port_open(port_); })) {
      throw std::runtime_error("docker-registry did not start: " +
                               read_file(dir_ / "registry.log"));
    }
  }

 private:
  void make_tls() {
    std::string d = dir_.path().string();
    must_run("cd " + d +
             " && openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=mkimg-test-ca "
             "-keyout ca.key -out ca.crt 2>/dev/null"
             " && openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key "
             "-out server.csr 2>/dev/null"
             " && printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > san.ext"
             " && openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
             "-days 2 -extfile san.ext -out server.crt 2>/dev/null"
             " && mkdir -p certs && cp ca.crt certs/ca.crt");
  }
  void start_token_issuer() {
    std::string d = dir_.path().string();
    must_run("cd " + d +
             " && openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=mkimg-token "
             "-keyout token.key -out token.crt 2>/dev/null");
    token_port_ =
        start_python_helper(token_issuer_, dir_.path(), "token_issuer",
                            {"--key", d + "/token.key", "--cert", d + "/token.crt", "--user",
                             user(), "--password", password(), "--issuer", "mkimg-test-issuer",
                             "--service", "mkimg-test-registry", "--log", d + "/token.log"});
  }
  void write_config() const {
    std::string d = dir_.path().string();
    std::string c = "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n";
    c += "storage:\n  filesystem:\n    rootdirectory: " + d + "/storage\n";
    c += std::string("  delete:\n    enabled: ") +
         (deletes_ == RegistryDeletes::kAllowed ? "true" : "false") + "\n";
    c += "http:\n  addr: 127.0.0.1:" + std::to_string(port_) + "\n  secret: mkimg-test\n";
    if (mode_ != RegistryMode::kHttp) {
      c += "  tls:\n    certificate: " + d + "/server.crt\n    key: " + d + "/server.key\n";
    }
    if (mode_ == RegistryMode::kHttpsBasicAuth) {
      c += "auth:\n  htpasswd:\n    realm: mkimg-test\n    path: " + d + "/htpasswd\n";
    }
    if (mode_ == RegistryMode::kHttpsTokenAuth) {
      c += "auth:\n  token:\n    realm: http://127.0.0.1:" + std::to_string(token_port_) +
           "/token\n    service: mkimg-test-registry\n    issuer: mkimg-test-issuer\n"
           "    rootcertbundle: " +
           d + "/token.crt\n";
    }
    write_file(dir_ / "config.yml", c);
  }

  RegistryMode mode_;
  RegistryDeletes deletes_;
  TempDir dir_;
  int port_ = 0;
  int token_port_ = 0;
  ChildProcess token_issuer_;
  ChildProcess process_;
};

/// What FaultProxy does to blob downloads (see fault_proxy.py).
enum class ProxyFault { kPass, kCorrupt, kTruncateOnce, kStall, kRedirect, kDropLayers };

/// tests/support/fault_proxy.py on 127.0.0.1:<port> in front of a Registry.
class FaultProxy {
 public:
  FaultProxy(const Registry& upstream, ProxyFault fault) {
    static const char* const names[] = {"pass",  "corrupt",  "truncate-once",
                                        "stall", "redirect", "drop-layers"};
    std::vector<std::string> args = {"--upstream", upstream.url(),
                                     "--mode",     names[static_cast<int>(fault)],
                                     "--log",      (dir_ / "proxy.log").string()};
    if (upstream.scheme() == "https") {
      args.insert(args.end(), {"--ca", upstream.ca_file().string()});
    }
    if (fault == ProxyFault::kRedirect) {
      std::string basic = upstream.user() + ":" + upstream.password();
      CommandResult r = run({"sh", "-c", "printf %s '" + basic + "' | base64 -w0"});
      args.insert(args.end(), {"--upstream-auth", "Basic " + r.out});
    }
    port_ = start_python_helper(process_, dir_.path(), "fault_proxy", args);
  }
  /// "127.0.0.1:PORT"
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  /// Every request the proxy saw: "METHOD PATH host=HOST auth=..." lines.
  std::string log() const { return read_file(dir_ / "proxy.log"); }
  void stop() { process_.kill(); }

 private:
  TempDir dir_;
  int port_ = 0;
  ChildProcess process_;
};

}  // namespace mkimg::testing
