// Content hashes of build-context files with a stat-keyed memo (<root>/cache/context-memo),
// so a no-op rebuild re-reads no unchanged file: a file whose device, inode, size, mtime and
// ctime are those recorded reuses its recorded sha256 without being opened. The memo is a
// plain text file (one "stat-key digest path" line per file): a no-op rebuild of a large
// context spends its time on stat, not on parsing.
#pragma once

#include <sys/stat.h>

#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace mkimg::builder {

/// Hashes files, remembering each result by path and stat; thread-safe.
class ContextHasher {
 public:
  /// Loads the memo at `memo_file` (a damaged or missing memo is empty).
  explicit ContextHasher(std::filesystem::path memo_file);

  /// The remembered "sha256:<hex>" of `path` when its stat `st` is the one recorded.
  std::optional<std::string> lookup(const std::filesystem::path& path, const struct stat& st);
  /// "sha256:<hex>" of the regular file open as `fd` at `path` with stat `st`.
  std::string hash(const std::filesystem::path& path, int fd, const struct stat& st);
  /// How many files were actually read (not answered from the memo).
  int files_read() const { return files_read_; }
  /// Writes the memo back atomically when it changed.
  void save();

 private:
  struct Entry {
    std::string stat_key;
    std::string digest;
  };
  std::filesystem::path memo_file_;
  std::unordered_map<std::string, Entry> memo_;
  std::mutex mutex_;
  bool dirty_ = false;
  int files_read_ = 0;
  int memo_hits_ = 0;
};

}  // namespace mkimg::builder
