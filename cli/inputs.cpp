// What commands read besides their flags: a Dockerfile (a file or stdin) and
// $SOURCE_DATE_EPOCH (cli/cli.h).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>

#include "cli/cli.h"
#include "common/error.h"
#include "common/fd.h"

namespace mkimg::cli {

std::string read_dockerfile_text(const std::string& path) {
  constexpr std::size_t kMaxDockerfileBytes = 64u << 20;
  UniqueFd owned(path == "-" ? -1 : ::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (path != "-" && !owned) throw sys_error("read", path);
  const int fd = path == "-" ? STDIN_FILENO : owned.get();
  std::string text;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw sys_error("read", path);
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > kMaxDockerfileBytes) {
      throw Error(describe("read", path, "larger than 64 MiB: not a Dockerfile"));
    }
  }
  return text;
}

std::optional<std::int64_t> source_date_epoch() {
  const char* env = std::getenv("SOURCE_DATE_EPOCH");
  if (!env || !*env) return std::nullopt;
  std::string s(env);
  if (s.size() > 18 || s.find_first_not_of("0123456789") != std::string::npos) {
    throw Error(describe("read", "SOURCE_DATE_EPOCH", "not a number of seconds: " + s));
  }
  return std::stoll(s);
}

}  // namespace mkimg::cli
