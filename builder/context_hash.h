// Content hashes of build-context files with a stat-keyed memo, so a no-op rebuild re-reads
// no unchanged file: a file whose device, inode, size, mtime and ctime are those recorded
// reuses its recorded sha256 without being opened. Each context directory has its own memo,
// <root>/cache/context-memos/<hash of the context's absolute path>, holding paths relative to
// that context: a build loads only the entries of its own context, and only when a COPY or
// ADD first reads it (loading on a thread of its own while the COPY walks its sources). The memo is
// a plain text file (a header naming the context, then one "stat-key digest relative-path" line per
// file, a later line for a path replacing an earlier one), mapped and looked up in place through a
// flat hash table, so a no-op rebuild of a large context spends its time on stat, not on parsing. A
// build that read a few files appends their lines; the memo is written anew (sorted, one line a
// path) only when more than half its lines are replaced ones.
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace mkimg::builder {

/// Hashes files of one context directory, remembering each result by relative path and stat;
/// thread-safe.
class ContextHasher {
 public:
  /// The memo of the context directory `context`, kept in `memo_dir` and loaded on first use
  /// (a damaged, missing or foreign memo is empty). An empty `memo_dir` or `context`: no
  /// memo, every file is read (sources in an image or a stage).
  explicit ContextHasher(std::filesystem::path memo_dir, std::filesystem::path context = {});
  ContextHasher(const ContextHasher&) = delete;
  ContextHasher& operator=(const ContextHasher&) = delete;
  ~ContextHasher();

  /// Starts loading the memo on a thread of its own, once: the lookups that follow wait for
  /// it (parsing 100,000 lines is 50 ms a walk of the context need not wait for).
  void preload();

  /// The remembered "sha256:<hex>" of `rel` (relative to the context) when its stat `st` is
  /// the one recorded.
  std::optional<std::string> lookup(std::string_view rel, const struct stat& st);
  /// "sha256:<hex>" of the regular file `rel` (relative to the context), open as `fd`, with
  /// stat `st`.
  std::string hash(std::string_view rel, int fd, const struct stat& st);
  /// How many files were actually read (not answered from the memo).
  int files_read() const { return files_read_; }
  /// Writes the memo back atomically when it changed (nothing is written otherwise).
  void save();

  /// The memo file of `context` in `memo_dir`.
  static std::filesystem::path memo_path(const std::filesystem::path& memo_dir,
                                         const std::filesystem::path& context);
  /// The directory of every context's memo in a store's cache directory `cache_dir`.
  static std::filesystem::path memo_dir(const std::filesystem::path& cache_dir) {
    return cache_dir / "context-memos";
  }
  /// The size in bytes of the memo of `context` in `memo_dir`, 0 without one: about 150 bytes
  /// a file of the context the last build read.
  static std::uintmax_t memo_size(const std::filesystem::path& memo_dir,
                                  const std::filesystem::path& context);

 private:
  struct Entry {
    std::string_view path;
    std::string_view stat_key;
    std::string_view digest;
    bool added = false;  ///< read by this build: saved
  };
  void load_locked();
  std::string_view keep(std::string s);
  /// The entry of `path`, or nullptr.
  Entry* find(std::string_view path);
  /// Adds `e`, or replaces the entry of its path.
  Entry& put(const Entry& e);
  void grow();
  void place(std::size_t hash, std::size_t index);
  std::string full_text() const;

  std::filesystem::path memo_dir_;
  std::filesystem::path context_;  ///< absolute
  std::filesystem::path memo_file_;
  std::atomic<bool> loaded_ = false;
  std::once_flag preload_once_;
  std::thread loader_;  ///< preload()'s, joined at destruction
  /// The memo file mapped read-only: loaded entries view into it. A memo is only ever
  /// replaced by a rename, never changed in place, so the mapping stays what was read.
  struct Mapping {
    void* data = nullptr;
    std::size_t size = 0;
    Mapping() = default;
    Mapping(const Mapping&) = delete;
    Mapping& operator=(const Mapping&) = delete;
    ~Mapping();
  } mapped_;
  std::deque<std::string> owned_;  ///< the strings of entries added since (stable addresses)
  std::vector<Entry> entries_;     ///< one a path
  /// Open addressing over entries_ (a hash tag and index + 1, 0 = empty), at most half full:
  /// 100,000 files are two allocations, not 100,000 nodes.
  std::vector<std::uint64_t> slots_;
  std::size_t lines_ = 0;   ///< lines of the memo file as loaded (replaced ones too)
  bool header_ok_ = false;  ///< the memo file was this context's: lines may be appended
  /// Shared by lookups (the walk asks from several threads), taken alone to add or load.
  std::shared_mutex mutex_;
  bool dirty_ = false;
  int files_read_ = 0;
  std::atomic<int> memo_hits_ = 0;
};

}  // namespace mkimg::builder
