// Content hashes of build-context files with a stat-keyed memo (<root>/cache/context-memo),
// so a no-op rebuild re-reads no unchanged file: a file whose device, inode, size, mtime and
// ctime are those recorded reuses its recorded sha256.
#pragma once

#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <string>

namespace mkimg::builder {

/// Hashes files, remembering each result by path and stat; thread-safe.
class ContextHasher {
 public:
  /// Loads the memo at `memo_file` (a damaged or missing memo is empty).
  explicit ContextHasher(std::filesystem::path memo_file);

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
  std::map<std::string, Entry> memo_;
  std::mutex mutex_;
  bool dirty_ = false;
  int files_read_ = 0;
  int memo_hits_ = 0;
};

}  // namespace mkimg::builder
