#include "builder/context_hash.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "builder/root_path.h"
#include "common/error.h"
#include "oci/digest.h"

namespace mkimg::builder {
namespace {

std::string stat_key(const struct stat& st) {
  return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + ":" +
         std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec) + ":" + std::to_string(st.st_ctim.tv_sec) + "." +
         std::to_string(st.st_ctim.tv_nsec);
}

std::string hash_fd(int fd, const std::filesystem::path& path) {
  oci::Sha256 h;
  char buf[1 << 16];
  for (off_t off = 0;;) {
    ssize_t n = ::pread(fd, buf, sizeof buf, off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw sys_error("read", path.string());
    if (n == 0) break;
    h.update(buf, static_cast<std::size_t>(n));
    off += n;
  }
  return h.finish().str();
}

}  // namespace

ContextHasher::ContextHasher(std::filesystem::path memo_file) : memo_file_(std::move(memo_file)) {
  try {
    auto j = nlohmann::json::parse(read_host_file(memo_file_));
    for (const auto& [path, v] : j.items()) {
      memo_[path] = {v.at(0).get<std::string>(), v.at(1).get<std::string>()};
    }
  } catch (const std::exception&) {
    memo_.clear();
  }
}

std::string ContextHasher::hash(const std::filesystem::path& path, int fd, const struct stat& st) {
  std::string key = stat_key(st);
  {
    std::lock_guard lock(mutex_);
    auto it = memo_.find(path.string());
    if (it != memo_.end() && it->second.stat_key == key) return ++memo_hits_, it->second.digest;
  }
  std::string digest = hash_fd(fd, path);
  std::lock_guard lock(mutex_);
  memo_[path.string()] = {key, digest};
  dirty_ = true;
  ++files_read_;
  return digest;
}

void ContextHasher::save() {
  std::lock_guard lock(mutex_);
  spdlog::debug("context hashing: {} files hashed, {} memo hits", files_read_, memo_hits_);
  if (!dirty_) return;
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [path, e] : memo_) j[path] = {e.stat_key, e.digest};
  write_file_atomic(memo_file_, j.dump());
  dirty_ = false;
}

}  // namespace mkimg::builder
