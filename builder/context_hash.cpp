#include "builder/context_hash.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <string_view>
#include <vector>

#include "builder/root_path.h"
#include "common/error.h"
#include "oci/digest.h"

namespace mkimg::builder {
namespace {

constexpr std::string_view kMemoHeader = "mkimg-context-memo 2\n";

std::string stat_key(const struct stat& st) {
  return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + ":" +
         std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec) + ":" + std::to_string(st.st_ctim.tv_sec) + "." +
         std::to_string(st.st_ctim.tv_nsec);
}

std::string hash_fd(int fd, const std::filesystem::path& path) {
  oci::Sha256 h;
  std::vector<char> buf(1 << 20);
  for (off_t off = 0;;) {
    ssize_t n = ::pread(fd, buf.data(), buf.size(), off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw sys_error("read", path.string());
    if (n == 0) break;
    h.update(buf.data(), static_cast<std::size_t>(n));
    off += n;
  }
  return h.finish().str();
}

}  // namespace

ContextHasher::ContextHasher(std::filesystem::path memo_file) : memo_file_(std::move(memo_file)) {
  if (memo_file_.empty()) return;
  std::string data;
  try {
    data = read_host_file(memo_file_);
  } catch (const std::exception&) {
    return;
  }
  if (!std::string_view(data).starts_with(kMemoHeader)) return;  // none, or an older format
  std::string_view rest = std::string_view(data).substr(kMemoHeader.size());
  // Lines: "<stat-key> <digest> <path>\n"; a malformed line ends the memo.
  while (!rest.empty()) {
    std::size_t end = rest.find('\n');
    if (end == std::string_view::npos) break;
    std::string_view line = rest.substr(0, end);
    rest.remove_prefix(end + 1);
    std::size_t a = line.find(' ');
    std::size_t b = a == std::string_view::npos ? a : line.find(' ', a + 1);
    if (b == std::string_view::npos) break;
    memo_.insert_or_assign(
        std::string(line.substr(b + 1)),
        Entry{std::string(line.substr(0, a)), std::string(line.substr(a + 1, b - a - 1))});
  }
}

std::optional<std::string> ContextHasher::lookup(const std::filesystem::path& path,
                                                 const struct stat& st) {
  std::lock_guard lock(mutex_);
  auto it = memo_.find(path.string());
  if (it == memo_.end() || it->second.stat_key != stat_key(st)) return std::nullopt;
  ++memo_hits_;
  return it->second.digest;
}

std::string ContextHasher::hash(const std::filesystem::path& path, int fd, const struct stat& st) {
  if (auto known = lookup(path, st)) return *known;
  std::string digest = hash_fd(fd, path);
  std::lock_guard lock(mutex_);
  // A path with a newline cannot be a memo line: it is hashed again next time.
  if (path.string().find('\n') == std::string::npos) {
    memo_[path.string()] = {stat_key(st), digest};
    dirty_ = true;
  }
  ++files_read_;
  return digest;
}

void ContextHasher::save() {
  std::lock_guard lock(mutex_);
  spdlog::debug("context hashing: {} files hashed, {} memo hits", files_read_, memo_hits_);
  if (!dirty_ || memo_file_.empty()) return;
  std::vector<const std::pair<const std::string, Entry>*> sorted;
  sorted.reserve(memo_.size());
  for (const auto& e : memo_) sorted.push_back(&e);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->first < b->first; });
  std::string out(kMemoHeader);
  for (const auto* e : sorted) {
    out += e->second.stat_key + " " + e->second.digest + " " + e->first + "\n";
  }
  write_file_atomic(memo_file_, out);
  dirty_ = false;
}

}  // namespace mkimg::builder
