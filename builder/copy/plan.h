// COPY/ADD in two halves: select() reads the sources (wildcards, .dockerignore, --exclude,
// directory walks, content hashes through the stat-keyed memo) without touching the image,
// which is all the cache key needs; apply() writes them into the step's merged root, every
// destination resolved inside that root (symlinks in the image never lead out of it).
// direct_copy_entries() is the third half: a COPY onto new paths is written straight from its
// sources into the layer (tar and compression on all cores, no copy on disk first). When a
// later step reads the stage's root, the same entries are written as files straight into the
// step's upper directory meanwhile (snapshot::materialize_spec, no overlay mounted); otherwise
// the layer is unpacked only if needed later. A rebuild reuses the unchanged files and gzip
// members of the last run (recall.h).
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstddef>
#include <iterator>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "builder/context_hash.h"
#include "builder/copy/rules.h"
#include "parser/dockerignore.h"
#include "snapshot/layer_writer.h"

namespace mkimg::builder {

/// One file, directory or symlink to copy.
struct CopyFile {
  std::string sub;    ///< path below its source ("" for the source itself)
  mode_t type = 0;    ///< S_IFREG, S_IFDIR, S_IFLNK
  unsigned mode = 0;  ///< permission bits as copied (after --chmod)
  uid_t uid = 0;
  gid_t gid = 0;
  struct timespec mtime {};
  std::string digest;                  ///< regular files: sha256 of the content
  std::string link_target;             ///< symlinks
  std::optional<std::string> content;  ///< heredoc sources: the bytes themselves
  std::string hardlink_to;             ///< regular files: the sub of an earlier file, same inode
  dev_t dev = 0;                       ///< the source's device and inode (finding hardlinks)
  ino_t ino = 0;
  nlink_t nlink = 0;
  off_t size = 0;  ///< with dev, ino and the times: what the context memo compares
  struct timespec ctime {};
};

/// A source's files in order, kept as the runs the walk's threads filled: joining them moves
/// no file (moving 100,000 CopyFiles into one vector was a fifth of a no-op rebuild).
class CopyFiles {
  using Runs = std::vector<std::vector<CopyFile>>;

 public:
  template <typename File, typename RunList>
  class Iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = CopyFile;
    using difference_type = std::ptrdiff_t;
    using pointer = File*;
    using reference = File&;
    Iterator() = default;
    Iterator(RunList* runs, std::size_t run) : runs_(runs), run_(run) { skip_empty(); }
    File& operator*() const { return (*runs_)[run_][index_]; }
    File* operator->() const { return &(*runs_)[run_][index_]; }
    Iterator& operator++() {
      ++index_;
      skip_empty();
      return *this;
    }
    Iterator operator++(int) {
      Iterator before = *this;
      ++*this;
      return before;
    }
    bool operator==(const Iterator& o) const { return run_ == o.run_ && index_ == o.index_; }

   private:
    void skip_empty() {
      while (run_ < runs_->size() && index_ == (*runs_)[run_].size()) {
        ++run_;
        index_ = 0;
      }
    }
    RunList* runs_ = nullptr;
    std::size_t run_ = 0;
    std::size_t index_ = 0;
  };
  using iterator = Iterator<CopyFile, Runs>;
  using const_iterator = Iterator<const CopyFile, const Runs>;

  iterator begin() { return {&runs_, 0}; }
  iterator end() { return {&runs_, runs_.size()}; }
  const_iterator begin() const { return {&runs_, 0}; }
  const_iterator end() const { return {&runs_, runs_.size()}; }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const CopyFile& front() const { return *begin(); }
  /// Appends `f` to the last run.
  void push_back(CopyFile f) {
    if (runs_.empty()) runs_.emplace_back();
    runs_.back().push_back(std::move(f));
    ++size_;
  }
  /// The runs, in order (work shared among threads takes a run at a time).
  std::size_t run_count() const { return runs_.size(); }
  std::span<CopyFile> run(std::size_t r) { return runs_[r]; }
  std::span<const CopyFile> run(std::size_t r) const { return runs_[r]; }
  /// Appends the files of `run` as they are.
  void append(std::vector<CopyFile>&& run) {
    size_ += run.size();
    runs_.push_back(std::move(run));
  }

 private:
  Runs runs_;
  std::size_t size_ = 0;
};

/// One selected source (after wildcard expansion) and what it holds.
struct CopySource {
  std::string relative;   ///< cleaned path in the source root ("" = the root)
  std::string read_from;  ///< where it is read: `relative`, or where a symlink there leads
  bool is_dir = false;
  CopyFiles files;  ///< the source itself first, then its contents, sorted
};

/// Where sources are read from and how their metadata is set.
struct CopyInput {
  std::filesystem::path root;  ///< the build context, or a stage/image view
  enum class Kind { kContext, kImage } kind = Kind::kContext;
  const parser::Dockerignore* ignore = nullptr;  ///< context only
  parser::Dockerignore excludes;                 ///< --exclude patterns
  std::optional<Chmod> chmod;
  ContextHasher* hasher = nullptr;
};

/// A file's part of a cache key: "type mode uid:gid digest link-target hardlink-to", built in
/// a string of its exact size (a COPY of 100,000 files keeps 100,000 of them while it runs).
std::string file_key(const CopyFile& f);

/// Selects and hashes every source. Throws mkimg::Error for a source that does not exist (or
/// is excluded by .dockerignore) and for a wildcard that matches nothing.
std::vector<CopySource> select_sources(const CopyInput& input,
                                       const std::vector<std::string>& sources);

/// Ownership for apply(): --chown resolved, or nullopt to keep each file's own.
struct CopyOwner {
  uid_t uid = 0;
  gid_t gid = 0;
};

/// Writes `sources` into the root `merged`: each lands at target_path(...) below `dest`.
/// Parent directories that do not exist are created (0755, owned by `owner` when given).
void apply_sources(const CopyInput& input, const std::vector<CopySource>& sources,
                   const std::filesystem::path& merged, const Destination& dest,
                   std::optional<CopyOwner> owner, Parents parents, bool force_dir_dest);

/// COPY straight into a layer: the entries apply_sources() would give on the image whose root
/// is the read-only `view`, for snapshot::write_layer_spec(); regular files are read from
/// `src_root` (input.root, kept open until the layer is written) or their inline content. The
/// image's directories on the way are in the layer as the overlay copies them up; directories
/// the step creates, or adds an entry to, get the mtime `now`. nullopt when the step needs the
/// overlay: something of the image is at a target path (other than a directory a source
/// directory merges into), a symlink or non-directory is on the way, a target is written twice.
/// The entries carry what snapshot::materialize_spec() needs to write the same files to disk
/// (nanosecond mtimes, content digests).
std::optional<std::vector<snapshot::SpecEntry>> direct_copy_entries(
    const std::vector<CopySource>& sources, int src_root, const std::filesystem::path& view,
    const Destination& dest, std::optional<CopyOwner> owner, Parents parents, bool force_dir_dest,
    int64_t now);

/// True when `path` is an existing directory inside the root `merged` (symlinks resolved in
/// the root).
bool is_directory_in_root(const std::filesystem::path& merged, const std::string& path);

}  // namespace mkimg::builder
