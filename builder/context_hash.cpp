#include "builder/context_hash.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <vector>

#include "common/copy_data.h"
#include "common/error.h"
#include "common/fd.h"
#include "common/in_root.h"
#include "oci/digest.h"
#include "runtime/cancel.h"

namespace mkimg::builder {
namespace {

/// Format 3: per context, relative paths; the header line names the context's absolute path
/// (a memo whose header names another directory is not used).
constexpr std::string_view kMemoHeader = "mkimg-context-memo 3 ";

/// "dev:ino:size:mtime.ns:ctime.ns" written into `buf`; returns its length.
std::size_t format_stat_key(const struct stat& st, char (&buf)[160]) {
  char* p = buf;
  char* end = buf + sizeof buf;
  auto put = [&](auto value, char sep) {
    p = std::to_chars(p, end, value).ptr;
    if (sep) *p++ = sep;
  };
  put(st.st_dev, ':');
  put(st.st_ino, ':');
  put(st.st_size, ':');
  put(st.st_mtim.tv_sec, '.');
  put(st.st_mtim.tv_nsec, ':');
  put(st.st_ctim.tv_sec, '.');
  put(st.st_ctim.tv_nsec, '\0');
  return static_cast<std::size_t>(p - buf);
}

std::filesystem::path absolute_context(const std::filesystem::path& context) {
  if (context.empty()) return {};
  std::error_code ec;
  auto real = std::filesystem::canonical(context, ec);
  if (!ec) return real;
  auto abs = std::filesystem::absolute(context, ec).lexically_normal();
  if (abs.has_filename() || abs == abs.root_path()) return abs;
  return abs.parent_path();  // "/a/b/" -> "/a/b"
}

/// 128 bits of the sha256 of the context's absolute path: a collision is also caught by the
/// header line.
std::string memo_name(const std::filesystem::path& absolute) {
  return oci::sha256_of(absolute.string()).encoded().substr(0, 32);
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

/// "dev:ino:size:mtime.ns:ctime.ns", each number made of digits only.
bool is_stat_key(std::string_view s) {
  for (int field = 0; field < 5; ++field) {
    std::size_t end = field < 4 ? s.find(':') : s.size();
    if (end == std::string_view::npos) return false;
    std::string_view number = s.substr(0, end);
    if (field >= 3) {
      std::size_t dot = number.find('.');
      if (dot == std::string_view::npos || !all_digits(number.substr(0, dot)) ||
          !all_digits(number.substr(dot + 1))) {
        return false;
      }
    } else if (!all_digits(number)) {
      return false;
    }
    s.remove_prefix(std::min(s.size(), end + 1));
  }
  return true;
}

/// "sha256:" and 64 lowercase hex digits.
bool is_digest(std::string_view s) {
  return s.size() == 71 && s.starts_with("sha256:") && oci::is_lower_hex(s.substr(7));
}

/// A slot of the table: the upper 32 bits of the path's hash, then its entry's index + 1 (0:
/// empty). The hash is compared first, so a probe seldom reads an entry that is not the one.
std::uint64_t slot_of(std::size_t hash, std::size_t index) {
  return (static_cast<std::uint64_t>(hash >> 32) << 32) | static_cast<std::uint32_t>(index + 1);
}

/// Appends the memo line of `path`: "<stat-key> <digest> <path>\n".
void append_line(std::string& out, std::string_view stat_key, std::string_view digest,
                 std::string_view path) {
  out.append(stat_key).append(" ").append(digest).append(" ").append(path).push_back('\n');
}

}  // namespace

ContextHasher::ContextHasher(std::filesystem::path memo_dir, std::filesystem::path context)
    : memo_dir_(std::move(memo_dir)) {
  if (memo_dir_.empty() || context.empty()) return;
  context_ = absolute_context(context);
  // A path with a newline could not be the header line: such a context has no memo.
  if (context_.string().find('\n') != std::string::npos) return;
  memo_file_ = memo_dir_ / memo_name(context_);
}

std::filesystem::path ContextHasher::memo_path(const std::filesystem::path& memo_dir,
                                               const std::filesystem::path& context) {
  return memo_dir / memo_name(absolute_context(context));
}

std::uintmax_t ContextHasher::memo_size(const std::filesystem::path& memo_dir,
                                        const std::filesystem::path& context) {
  std::error_code ec;
  auto size = std::filesystem::file_size(memo_path(memo_dir, context), ec);
  return ec ? 0 : size;
}

ContextHasher::~ContextHasher() {
  if (loader_.joinable()) loader_.join();
}

void ContextHasher::preload() {
  if (memo_file_.empty()) return;
  std::call_once(preload_once_, [this] {
    loader_ = std::thread([this] {
      std::lock_guard lock(mutex_);
      try {
        if (!loaded_) load_locked();
      } catch (...) {  // what was loaded stays: the paths not in it are read
      }
    });
  });
}

ContextHasher::Mapping::~Mapping() {
  if (data) ::munmap(data, size);
}

std::string_view ContextHasher::keep(std::string s) { return owned_.emplace_back(std::move(s)); }

ContextHasher::Entry* ContextHasher::find(std::string_view path) {
  if (slots_.empty()) return nullptr;
  std::size_t hash = std::hash<std::string_view>{}(path);
  std::uint64_t tag = hash >> 32 << 32;
  std::size_t mask = slots_.size() - 1;
  for (std::size_t i = hash & mask; slots_[i]; i = (i + 1) & mask) {
    if ((slots_[i] & ~0xffffffffULL) != tag) continue;
    Entry& e = entries_[(slots_[i] & 0xffffffffULL) - 1];
    if (e.path == path) return &e;
  }
  return nullptr;
}

void ContextHasher::place(std::size_t hash, std::size_t index) {
  std::size_t mask = slots_.size() - 1;
  std::size_t i = hash & mask;
  while (slots_[i]) i = (i + 1) & mask;
  slots_[i] = slot_of(hash, index);
}

void ContextHasher::grow() {
  std::size_t size = std::max<std::size_t>(1024, slots_.size() * 2);
  while (size < std::max(entries_.size(), entries_.capacity()) * 2 + 2) size *= 2;
  slots_.assign(size, 0);
  for (std::size_t n = 0; n < entries_.size(); ++n) {
    place(std::hash<std::string_view>{}(entries_[n].path), n);
  }
}

ContextHasher::Entry& ContextHasher::put(const Entry& e) {
  if (Entry* known = find(e.path)) return *known = e;
  entries_.push_back(e);
  if (entries_.size() * 2 > slots_.size()) {
    grow();
  } else {
    place(std::hash<std::string_view>{}(e.path), entries_.size() - 1);
  }
  return entries_.back();
}

void ContextHasher::load_locked() {
  loaded_.store(true, std::memory_order_release);
  if (memo_file_.empty()) return;
  UniqueFd fd(::open(memo_file_.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st {};
  if (!fd || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
    return;  // none yet
  }
  void* p =
      // Populated at once: every page is read, and one fault a page cost a fifth of a no-op
      // rebuild of 100,000 files.
      ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_PRIVATE | MAP_POPULATE,
             fd.get(), 0);
  if (p == MAP_FAILED) return;  // as if there were none: the files are read
  mapped_.data = p;
  mapped_.size = static_cast<std::size_t>(st.st_size);
  std::string_view rest(static_cast<const char*>(p), mapped_.size);
  std::size_t header_end = rest.find('\n');
  if (!rest.starts_with(kMemoHeader) || header_end == std::string_view::npos ||
      rest.substr(kMemoHeader.size(), header_end - kMemoHeader.size()) != context_.string()) {
    return;  // an older format, or the memo of another directory (a name collision)
  }
  rest.remove_prefix(header_end + 1);
  header_ok_ = true;
  // Lines: "<stat-key> <digest> <relative path>\n". A line that is not one (the end of an
  // append a crash cut short, glued to the next) is skipped: its path is read again.
  // Room for a line every 64 bytes (a line is a stat key, a digest and a path: 100 bytes and
  // more), so the table is made once.
  entries_.reserve(rest.size() / 64 + 16);
  slots_.clear();
  grow();
  while (!rest.empty()) {
    std::size_t end = rest.find('\n');
    if (end == std::string_view::npos) break;  // the last line of a cut append
    std::string_view line = rest.substr(0, end);
    rest.remove_prefix(end + 1);
    ++lines_;
    std::size_t a = line.find(' ');
    std::size_t b = a == std::string_view::npos ? a : line.find(' ', a + 1);
    if (b == std::string_view::npos || b + 1 == line.size()) continue;
    Entry e{line.substr(b + 1), line.substr(0, a), line.substr(a + 1, b - a - 1)};
    if (!is_stat_key(e.stat_key) || !is_digest(e.digest)) continue;
    put(e);
  }
}

std::optional<std::string> ContextHasher::lookup(std::string_view rel, const struct stat& st) {
  if (!loaded_.load(std::memory_order_acquire)) {
    std::lock_guard lock(mutex_);
    if (!loaded_) load_locked();
  }
  std::shared_lock lock(mutex_);
  const Entry* e = find(rel);
  if (!e) return std::nullopt;
  char key[160];
  if (e->stat_key != std::string_view(key, format_stat_key(st, key))) return std::nullopt;
  memo_hits_.fetch_add(1, std::memory_order_relaxed);
  return std::string(e->digest);
}

std::string ContextHasher::hash(std::string_view rel, int fd, const struct stat& st) {
  if (auto known = lookup(rel, st)) return *known;
  std::string digest =
      oci::digest_of_fd(oci::DigestAlgorithm::kSha256, fd, context_ / rel, runtime::keep_going)
          .str();
  std::lock_guard lock(mutex_);
  // A path with a newline cannot be a memo line: it is hashed again next time.
  if (!memo_file_.empty() && !rel.empty() && rel.find('\n') == std::string_view::npos) {
    char key[160];
    put(Entry{keep(std::string(rel)), keep(std::string(key, format_stat_key(st, key))),
              keep(digest), true});
    dirty_ = true;
  }
  ++files_read_;
  return digest;
}

std::string ContextHasher::full_text() const {
  std::vector<const Entry*> sorted;
  sorted.reserve(entries_.size());
  std::size_t size = kMemoHeader.size() + context_.string().size() + 1;
  for (const auto& e : entries_) {
    sorted.push_back(&e);
    size += e.path.size() + e.stat_key.size() + e.digest.size() + 3;
  }
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->path < b->path; });
  std::string out;
  out.reserve(size);
  out.append(kMemoHeader).append(context_.string()).push_back('\n');
  for (const auto* e : sorted) append_line(out, e->stat_key, e->digest, e->path);
  return out;
}

void ContextHasher::save() {
  std::lock_guard lock(mutex_);
  spdlog::debug("context hashing: {} files hashed, {} memo hits", files_read_, memo_hits_.load());
  if (!dirty_ || memo_file_.empty()) return;
  std::string added;
  std::size_t count = 0;
  for (auto& e : entries_) {
    if (!e.added) continue;
    ++count;
    append_line(added, e.stat_key, e.digest, e.path);
    e.added = false;  // in the file from now on: a later save() does not append it again
  }
  // Appended while at most half the lines would be replaced ones: a build that read one file
  // of 100,000 writes one line, not the 100,000.
  if (header_ok_ && (lines_ + count) <= 2 * entries_.size()) {
    UniqueFd out(::open(memo_file_.c_str(), O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC));
    if (out) {
      write_fd_data(out.get(), added, memo_file_.string());
      lines_ += count;
      dirty_ = false;
      return;
    }
  }
  std::filesystem::create_directories(memo_dir_);
  write_file_atomic(memo_file_, full_text());
  lines_ = entries_.size();
  header_ok_ = true;
  dirty_ = false;
}

}  // namespace mkimg::builder
