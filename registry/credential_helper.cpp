// The helper runs with two pipes (common/process.h); stdin is written whole, then stdout read to
// the end.
#include "registry/credential_helper.h"

#include <signal.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>

#include "common/copy_data.h"
#include "common/error.h"
#include "common/process.h"

namespace mkimg::registry {
namespace {

bool valid_name(std::string_view name) {
  if (name.empty() || name == "." || name == "..") return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') {
      return false;
    }
  }
  return true;
}

void write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the helper closed stdin early; its exit status tells the rest
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace

HelperResult run_credential_helper(std::string_view name, std::string_view action,
                                   std::string_view input) {
  std::string program = "docker-credential-" + std::string(name);
  if (!valid_name(name)) throw Error(describe("run credential helper", program, "invalid name"));
  SpawnOptions o;
  o.argv = {program, std::string(action)};
  o.search_path = true;
  o.in = Redirect::pipe();
  o.out = Redirect::pipe();
  Process p = Process::spawn(o, "run credential helper");
  struct sigaction ignore {
  }, old{};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ignore, &old);
  write_all(p.in().get(), input);
  ::sigaction(SIGPIPE, &old, nullptr);
  p.in().reset();
  HelperResult result;
  result.out = read_fd_data(p.out().get(), 1u << 20);
  result.exit_code = p.wait().shell_code();
  return result;
}

}  // namespace mkimg::registry
