// common/: the small library every folder of mkimg may use (and that uses none of ours). A map:
//
//   error.h       the one error type (this file)
//   fd.h          UniqueFd: every fd mkimg opens
//   process.h     Process::spawn: the one way a child is started
//   copy_data.h   writing bytes to an fd, reading one to its end, copying a file's bytes between
//                 fds in the kernel (stopping between chunks when a keep_going says so)
//   in_root.h     paths inside an image root, resolved safely (openat2, RESOLVE_IN_ROOT);
//                 reading and writing host files; join_rel and parent_rel, the one join and
//                 the one parent of relative paths
//   temp_dir.h    TempDir: a directory made with mkdtemp, removed with its contents at scope exit
//   network_mode.h  NetworkMode: RUN --network, --network, the bundle's namespaces
//   user_namespace.h  whether mkimg runs in a user namespace; chown errors naming the fix
//   archive_error.h  a libarchive failure in words, its errno's included ("No space left")
//   ascii.h       ASCII case folding (keywords, stage names, HTTP header names), never by locale
//   parallel.h    for_each_index / for_each_range: a loop's work shared among the cores, the one
//                 place threads are started for a loop; Background: tasks run beside the
//                 caller, joined by wait()
//   huge_pages.h  an executable started again once with glibc's allocator on transparent huge
//                 pages (GLIBC_TUNABLES): a build of a large context, the benchmarks
//
// mkimg has one error type. Its message reads "verb `object`: cause"; code that crosses a
// step boundary (a Dockerfile instruction, a command, a blob) adds context in front with
// `with_context`. Dockerfile errors are built by the parser as "Dockerfile:12:5: message"
// followed by the offending line. Absence is std::optional, never an Error.
#pragma once

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>

namespace mkimg {

/// The error every library of mkimg throws. `what()` is the whole message for the user; a NUL
/// byte in it (from a Dockerfile, a file name) is shown as `\0`, so the C string is not cut.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(visible(message)) {}

 private:
  static std::string visible(const std::string& message) {
    if (message.find('\0') == std::string::npos) return message;
    std::string out;
    for (char c : message) out += c == '\0' ? std::string("\\0") : std::string(1, c);
    return out;
  }
};

/// "verb `object`: cause", the form every message takes.
inline std::string describe(std::string_view verb, std::string_view object,
                            std::string_view cause) {
  std::string s;
  s.reserve(verb.size() + object.size() + cause.size() + 6);
  s.append(verb).append(" `").append(object).append("`: ").append(cause);
  return s;
}

/// An Error for a failed system call, with strerror(err) as the cause.
inline Error sys_error(std::string_view verb, std::string_view object, int err = errno) {
  return Error(describe(verb, object, std::strerror(err)));
}

/// The same error with `context` in front: "context: message".
inline Error with_context(std::string_view context, const std::exception& e) {
  return Error(std::string(context) + ": " + e.what());
}

}  // namespace mkimg
