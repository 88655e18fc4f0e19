// CaseServer: the loopback HTTP server of a peer case whose build flags name "@HTTP@".
#pragma once

#include <string>

#include "tests/integration/peers/peer_case.h"
#include "tests/support/harness.h"
#include "tests/support/registry_fixture.h"

namespace mkimg::testing::peers {

/// A case whose build flags name "@HTTP@" has its prepared context served on loopback by
/// tests/support/http_files.py while the test runs, and "@HTTP@" becomes the server's base
/// URL (Docker builds with --network host, so both tools reach it): ADD <url> cases.
class CaseServer {
 public:
  CaseServer(PeerCase& c, const fs::path& context, const fs::path& work) {
    std::string base;
    for (PeerBuild& b : c.builds) {
      for (std::string& f : b.flags) {
        for (auto at = f.find("@HTTP@"); at != std::string::npos; at = f.find("@HTTP@")) {
          if (base.empty()) base = c.http = start(context, work);
          f.replace(at, 6, base);
        }
      }
    }
  }
  const std::string& failure() const { return failure_; }

 private:
  std::string start(const fs::path& context, const fs::path& work) {
    int port = free_port();
    server_ = ChildProcess({"python3", (source_dir() / "tests/support/http_files.py").string(),
                            "--port", std::to_string(port), "--directory", context.string()},
                           work / "http.log");
    if (!wait_until([&] { return port_open(port); })) {
      failure_ = "http_files.py did not start: " + read_file(work / "http.log");
    }
    return "http://127.0.0.1:" + std::to_string(port);
  }

  ChildProcess server_;
  std::string failure_;
};

}  // namespace mkimg::testing::peers
