// What commands read besides their flags: a Dockerfile (a file or stdin), $SOURCE_DATE_EPOCH,
// and for `mkimg run` an --env-file and the variables `-e NAME` takes from the environment
// (cli/cli.h).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <string_view>

#include "cli/cli.h"
#include "common/error.h"
#include "common/fd.h"
#include "parser/unicode.h"

namespace mkimg::cli {

namespace {

/// The whole of `path` ("-": standard input); past `limit` bytes it is refused, `what` saying
/// what the file should have been.
std::string read_limited(const std::string& path, std::size_t limit, const char* what) {
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
    if (text.size() > limit) {
      throw Error(describe("read", path,
                           "larger than " + std::to_string(limit >> 20) + " MiB: not " + what));
    }
  }
  return text;
}

}  // namespace

std::string read_dockerfile_text(const std::string& path) {
  return read_limited(path, 64u << 20, "a Dockerfile");
}

std::optional<std::string> env_flag_value(const std::string& text) {
  const std::string name = text.substr(0, text.find('='));
  if (name.empty()) throw Error(describe("-e", text, "invalid environment variable: no name"));
  if (text.find('=') != std::string::npos) return text;
  const char* value = std::getenv(name.c_str());
  if (!value) return std::nullopt;  // docker run leaves an unset variable out
  return name + "=" + value;
}

std::vector<std::string> read_env_file(const std::string& path) {
  // docker's opts.ParseEnvFile: lines `NAME=VALUE` (the value as written) or `NAME` (from the
  // environment, left out when unset); leading white space and `#` comment lines are skipped.
  const std::string text = read_limited(path, 64u << 20, "an env file");
  std::vector<std::string> env;
  std::size_t start = 0;
  for (int number = 1; start < text.size(); ++number) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + start, end - start);
    start = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (number == 1 && line.starts_with("\xEF\xBB\xBF")) line.remove_prefix(3);  // a BOM
    const std::string where = path + ":" + std::to_string(number);
    for (std::size_t i = 0; i < line.size();) {
      auto rune = parser::decode_rune(line, i);
      if (rune.value == parser::kReplacementChar && rune.width == 1) {
        throw Error(describe("read env file", where, "invalid UTF-8"));
      }
      i += rune.width;
    }
    line = parser::trim_left_space(line);
    if (line.empty() || line[0] == '#') continue;
    const std::size_t eq = line.find('=');
    const std::string name(line.substr(0, eq));
    if (name.find_first_of(" \t") != std::string::npos) {
      throw Error(describe("read env file", where, "variable '" + name + "' contains white space"));
    }
    if (name.empty()) throw Error(describe("read env file", where, "no variable name"));
    if (eq != std::string_view::npos) {
      env.emplace_back(line);
    } else if (const char* value = std::getenv(name.c_str())) {
      env.push_back(name + "=" + value);
    }
  }
  return env;
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
