#include "common/in_root.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <random>
#include <vector>

#include "common/copy_data.h"
#include "common/error.h"

namespace mkimg {

UniqueFd open_root(const std::filesystem::path& root) {
  UniqueFd fd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!fd) throw sys_error("open", root.string());
  return fd;
}

UniqueFd open_resolved(int dir_fd, const std::string& path, std::uint64_t resolve, int flags,
                       unsigned mode) {
  struct open_how how {};
  how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC);
  // openat2 refuses a mode without O_CREAT or O_TMPFILE (EINVAL).
  bool creates = (flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE;
  how.mode = creates ? mode : 0;
  how.resolve = resolve;
  const char* p = path.empty() ? "." : path.c_str();
  long fd = -1;
  for (int attempt = 0; attempt < kOpenResolvedAttempts; ++attempt) {
    fd = ::syscall(SYS_openat2, dir_fd, p, &how, sizeof how);
    if (fd >= 0 || errno != EAGAIN) break;
  }
  return UniqueFd(static_cast<int>(fd));
}

UniqueFd open_in_root(int root_fd, const std::string& path, int flags, unsigned mode) {
  std::size_t start = path.find_first_not_of('/');
  std::string rel = start == std::string::npos ? std::string() : path.substr(start);
  return open_resolved(root_fd, rel, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS, flags, mode);
}

std::optional<std::string> read_file_in_root(int root_fd, const std::string& path,
                                             std::size_t limit) {
  UniqueFd fd = open_in_root(root_fd, path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  if (!fd) {
    if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
    throw sys_error("open", path);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw sys_error("stat", path);
  if (!S_ISREG(st.st_mode)) throw Error(describe("read", path, "not a regular file"));
  if (static_cast<std::size_t>(st.st_size) > limit) {
    throw Error(describe("read", path, "file too large"));
  }
  std::string data(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::read(fd.get(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw sys_error("read", path);
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  data.resize(done);
  return data;
}

UniqueFd make_dirs_in_root(int root_fd, const std::string& path) {
  return make_dirs_in_root(root_fd, path, DirOwner{});
}

namespace {

/// The components of `path` ("/a//b/" -> a, b), pushed onto `todo` so the first is on top.
void push_components(std::vector<std::string>& todo, const std::string& path) {
  std::vector<std::string> parts;
  for (const auto& part : std::filesystem::path(path)) {
    std::string name = part.string();
    if (!name.empty() && name != "/") parts.push_back(std::move(name));
  }
  todo.insert(todo.end(), parts.rbegin(), parts.rend());
}

/// The target of `name` in the (symlink-free) directory `dir` when it is a symlink.
std::optional<std::string> link_target(int root_fd, const std::string& dir,
                                       const std::string& name) {
  UniqueFd parent = open_in_root(root_fd, dir, O_PATH | O_DIRECTORY | O_NOFOLLOW);
  struct stat st {};
  if (!parent || ::fstatat(parent.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
      !S_ISLNK(st.st_mode)) {
    return std::nullopt;
  }
  std::string target(4096, '\0');
  ssize_t n = ::readlinkat(parent.get(), name.c_str(), target.data(), target.size());
  if (n < 0) return std::nullopt;
  target.resize(static_cast<std::size_t>(n));
  return target;
}

}  // namespace

std::string resolve_in_root(int root_fd, const std::string& path) {
  std::vector<std::string> todo;
  push_components(todo, path);
  std::string resolved;  // "" is the root; else "/a/b", no symlink in it
  int links = 0;
  while (!todo.empty()) {
    std::string name = std::move(todo.back());
    todo.pop_back();
    if (name == ".") continue;
    if (name == "..") {
      resolved.erase(std::min(resolved.size(), resolved.rfind('/')));
      continue;
    }
    auto target = link_target(root_fd, resolved.empty() ? "/" : resolved, name);
    if (!target) {
      resolved += "/" + name;
      continue;
    }
    if (++links > 40) throw Error(describe("resolve", path, "too many levels of symbolic links"));
    if (target->starts_with("/")) resolved.clear();
    push_components(todo, *target);
  }
  return resolved.empty() ? "/" : resolved;
}

UniqueFd make_dirs_in_root(int root_fd, const std::string& path_in, DirOwner owner) {
  UniqueFd dir(::fcntl(root_fd, F_DUPFD_CLOEXEC, 0));
  std::string path = resolve_in_root(root_fd, path_in);
  std::string so_far;
  for (const auto& part : std::filesystem::path(path)) {
    std::string name = part.string();
    if (name.empty() || name == "/" || name == ".") continue;
    so_far += "/" + name;
    UniqueFd next = open_in_root(root_fd, so_far, O_PATH | O_DIRECTORY);
    if (!next) {
      if (errno != ENOENT) throw sys_error("open directory", so_far);
      // Create the missing component in its (already resolved) parent, then re-resolve.
      UniqueFd parent = open_in_root(root_fd, std::filesystem::path(so_far).parent_path(),
                                     O_RDONLY | O_DIRECTORY);
      if (!parent) throw sys_error("open directory", so_far);
      bool created = ::mkdirat(parent.get(), name.c_str(), 0755) == 0;
      if (!created && errno != EEXIST) throw sys_error("create directory", so_far);
      if (created && (owner.uid != 0 || owner.gid != 0) &&
          ::fchownat(parent.get(), name.c_str(), owner.uid, owner.gid, AT_SYMLINK_NOFOLLOW) != 0) {
        throw sys_error("chown directory", so_far);
      }
      next = open_in_root(root_fd, so_far, O_PATH | O_DIRECTORY);
      if (!next) throw sys_error("open directory", so_far);
    }
    dir = std::move(next);
  }
  return dir;
}

std::string join_rel(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  return a + "/" + b;
}

std::string read_host_file(const std::filesystem::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw sys_error("read", path.string());
  // Sized by fstat and read in place (no growing buffer); a file that grows meanwhile, or one
  // with no size (a pipe, /proc), is read on until its end. A file with no size starts with a
  // page: a /proc/sys file gives its whole value to the first read and nothing to a read at an
  // offset, so a 1-byte first read would leave "1" of "1048576".
  struct stat st {};
  std::size_t size =
      ::fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode) ? static_cast<std::size_t>(st.st_size) : 0;
  std::string data(size > 0 ? size + 1 : 4096, '\0');
  std::size_t done = 0;
  for (;;) {
    if (done == data.size()) data.resize(data.size() * 2 + 65536);
    ssize_t n = ::read(fd.get(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw sys_error("read", path.string());
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  data.resize(done);
  return data;
}

AtomicFile::AtomicFile(std::filesystem::path path, mode_t mode,
                       const std::filesystem::path& temp_dir)
    : path_(std::move(path)) {
  std::random_device rd;
  std::string suffix = ".tmp-" + std::to_string(rd()) + std::to_string(rd());
  tmp_ = temp_dir.empty() ? std::filesystem::path(path_.string() + suffix)
                          : temp_dir / (path_.filename().string() + suffix);
  fd_ = UniqueFd(::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
  if (!fd_) throw sys_error("write", tmp_.string());
}

AtomicFile::~AtomicFile() {
  if (!committed_) ::unlink(tmp_.c_str());
}

void AtomicFile::commit(Flush flush) {
  if (flush != Flush::kNo && ::fsync(fd_.get()) != 0) throw sys_error("fsync", tmp_.string());
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) throw sys_error("write", path_.string());
  committed_ = true;
  fd_ = UniqueFd();
  if (flush == Flush::kWithDirectory) {
    std::filesystem::path dir = path_.has_parent_path() ? path_.parent_path() : ".";
    UniqueFd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!d || ::fsync(d.get()) != 0) throw sys_error("fsync", dir.string());
  }
}

void write_file_atomic(const std::filesystem::path& path, std::string_view data, Flush flush,
                       const std::filesystem::path& temp_dir, mode_t mode) {
  AtomicFile file(path, mode, temp_dir);
  write_fd_data(file.fd(), data, file.temp_path().string());
  file.commit(flush);
}

std::filesystem::path output_target(const std::filesystem::path& path) {
  struct stat st {};
  int rc = ::stat(path.c_str(), &st);
  if (rc != 0 && errno != ENOENT) throw sys_error("write", path.string());
  if (rc == 0 && !S_ISREG(st.st_mode)) {
    const char* kind = S_ISDIR(st.st_mode)                          ? "a directory"
                       : S_ISFIFO(st.st_mode)                       ? "a FIFO"
                       : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device"
                       : S_ISSOCK(st.st_mode)                       ? "a socket"
                                                                    : "not a regular file";
    throw Error(describe("write", path.string(),
                         std::string("it is ") + kind +
                             "; name a regular file or a new path (save: `-o -` for stdout)"));
  }
  // A regular file or nothing: through symlinks (dangling ones too), so the rename replaces
  // the file they lead to, never a link.
  std::filesystem::path target = path;
  for (int hops = 0; hops < 40; ++hops) {
    struct stat l {};
    if (::lstat(target.c_str(), &l) != 0 || !S_ISLNK(l.st_mode)) return target;
    std::filesystem::path next = std::filesystem::read_symlink(target);
    target = next.is_absolute() ? next : target.parent_path() / next;
  }
  throw Error(describe("write", path.string(), "too many levels of symbolic links"));
}

}  // namespace mkimg
