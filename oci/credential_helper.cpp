// posix_spawnp with two pipes; stdin is written whole, then stdout read to the end.
#include "oci/credential_helper.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <vector>

#include "common/error.h"
#include "common/fd.h"

extern char** environ;

namespace mkimg::oci {
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

std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return out;
    if (out.size() < (1u << 20)) out.append(buf, static_cast<std::size_t>(n));
  }
}

}  // namespace

HelperResult run_credential_helper(std::string_view name, std::string_view action,
                                   std::string_view input) {
  std::string program = "docker-credential-" + std::string(name);
  if (!valid_name(name)) throw Error(describe("run credential helper", program, "invalid name"));
  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) != 0) throw sys_error("create pipe for", program);
  UniqueFd in_read(in[0]), in_write(in[1]);
  if (::pipe2(out, O_CLOEXEC) != 0) throw sys_error("create pipe for", program);
  UniqueFd out_read(out[0]), out_write(out[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_read.get(), 0);
  posix_spawn_file_actions_adddup2(&actions, out_write.get(), 1);
  std::string act(action);
  std::vector<char*> argv = {program.data(), act.data(), nullptr};
  pid_t pid = 0;
  int rc = ::posix_spawnp(&pid, program.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw sys_error("run credential helper", program, rc);
  in_read.reset();
  out_write.reset();
  struct sigaction ignore {
  }, old{};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ignore, &old);
  write_all(in_write.get(), input);
  ::sigaction(SIGPIPE, &old, nullptr);
  in_write.reset();
  HelperResult result;
  result.out = read_all(out_read.get());
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace mkimg::oci
