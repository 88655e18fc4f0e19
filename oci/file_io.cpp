// POSIX file helpers for the store.
#include "oci/file_io.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/copy_data.h"
#include "common/error.h"
#include "oci/digest.h"

namespace mkimg::oci::detail {

UniqueFd open_read(const std::filesystem::path& path) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; only regular files are read.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!fd) throw sys_error("open", path.string());
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw sys_error("stat", path.string());
  if (!S_ISREG(st.st_mode)) throw Error(describe("open", path.string(), "not a regular file"));
  int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) != 0) {
    throw sys_error("open", path.string());
  }
  return fd;
}

UniqueFd create_temp(const std::filesystem::path& prefix, std::filesystem::path& path) {
  std::string tmpl = prefix.string() + "-XXXXXX";
  UniqueFd fd(::mkostemp(tmpl.data(), O_CLOEXEC));
  if (!fd) throw sys_error("create temporary file", tmpl);
  path = tmpl;
  return fd;
}

void write_all(int fd, const void* data, std::size_t size, const std::filesystem::path& path) {
  write_fd_data(fd, std::string_view(static_cast<const char*>(data), size), path.string());
}

std::size_t read_some(int fd, void* data, std::size_t size, const std::filesystem::path& path) {
  char* p = static_cast<char*>(data);
  std::size_t done = 0;
  while (done < size) {
    ssize_t n = ::read(fd, p + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw sys_error("read", path.string());
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  return done;
}

std::string read_capped(const std::filesystem::path& path, std::size_t max_size) {
  UniqueFd fd = open_read(path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw sys_error("stat", path.string());
  if (!S_ISREG(st.st_mode)) throw Error(describe("read", path.string(), "not a regular file"));
  if (static_cast<std::uint64_t>(st.st_size) > max_size) {
    throw Error(describe("read", path.string(),
                         "file of " + std::to_string(st.st_size) + " bytes exceeds the " +
                             std::to_string(max_size) + "-byte limit"));
  }
  std::string out(static_cast<std::size_t>(st.st_size), '\0');
  out.resize(read_some(fd.get(), out.data(), out.size(), path));
  return out;
}

void fsync_fd(int fd, const std::filesystem::path& path) {
  if (::fsync(fd) != 0) throw sys_error("fsync", path.string());
}

void fsync_dir(const std::filesystem::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) throw sys_error("open directory", dir.string());
  fsync_fd(fd.get(), dir);
}

void sync_file_system(const std::filesystem::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd || ::syncfs(fd.get()) != 0) throw sys_error("sync", dir.string());
}

void make_private_dir(const std::filesystem::path& dir) {
  if (::mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return;
    throw Error(describe("create directory", dir.string(), "exists and is not a directory"));
  }
  throw sys_error("create directory", dir.string());
}

std::string random_hex(std::size_t bytes) {
  std::string raw(bytes, '\0');
  std::size_t got = 0;
  while (got < bytes) {
    ssize_t n = ::getrandom(raw.data() + got, bytes - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw sys_error("read", "getrandom");
    got += static_cast<std::size_t>(n);
  }
  return hex_encode(raw);
}

}  // namespace mkimg::oci::detail
