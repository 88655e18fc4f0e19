#include "snapshot/layer_writer.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <locale.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string_view>
#include <utility>

#include "common/archive_error.h"
#include "common/error.h"
#include "common/parallel.h"
#include "oci/digest.h"
#include "snapshot/compressed_sink.h"
#include "snapshot/tree_walk.h"

namespace mkimg::snapshot {

namespace {

struct ArchiveDeleter {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryDeleter {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveDeleter>;
using EntryPtr = std::unique_ptr<archive_entry, EntryDeleter>;

/// What libarchive writes into: the sink, until the writer is abandoned (a failed or
/// interrupted write), after which every write fails at once.
struct SinkClient {
  CompressedSink* sink;
  bool abandoned = false;
};

la_ssize_t sink_write(archive*, void* client, const void* data, size_t size) {
  auto* c = static_cast<SinkClient*>(client);
  if (c->abandoned) return -1;
  try {
    c->sink->write(data, size);
    return static_cast<la_ssize_t>(size);
  } catch (const std::exception&) {
    return -1;
  }
}

/// libarchive's PAX writer turns names into UTF-8 from the calling thread's locale, where every
/// byte above 0x7f fails under C or POSIX ("Can't translate pathname"). Tar names are bytes:
/// while a header is written the thread runs under C.UTF-8, so a UTF-8 name is written as is
/// in a `path` record (as Go's archive/tar does for BuildKit), and a name that is not UTF-8
/// is written as is too, with `hdrcharset=BINARY` (archive_write_header's ARCHIVE_WARN).
/// The bytes never depend on the user's locale.
class Utf8Names {
 public:
  Utf8Names() : previous_(utf8() ? ::uselocale(utf8()) : nullptr) {}
  ~Utf8Names() {
    if (previous_ != nullptr) ::uselocale(previous_);
  }
  Utf8Names(const Utf8Names&) = delete;
  Utf8Names& operator=(const Utf8Names&) = delete;

 private:
  static locale_t utf8() {
    static const locale_t locale = ::newlocale(LC_CTYPE_MASK, "C.UTF-8", nullptr);
    return locale;
  }
  locale_t previous_;
};

la_ssize_t discard_write(archive*, void*, const void*, size_t size) {
  return static_cast<la_ssize_t>(size);
}

/// Writes entries one by one into a libarchive PAX stream feeding a CompressedSink.
class TarWriter {
 public:
  TarWriter(int root, CompressedSink& sink, const LayerOptions& options)
      : root_(root), sink_(sink), options_(options), client_{&sink}, a_(archive_write_new()) {
    if (options.earlier && sink.has_earlier() &&
        options.earlier->source_date_epoch == options.source_date_epoch) {
      earlier_ = &options.earlier->entries;
    }
    archive_write_set_format_pax_restricted(a_.get());
    // Unbuffered, so the sink sees where each entry starts (it may end a gzip block there).
    archive_write_set_bytes_per_block(a_.get(), 0);
    archive_write_set_bytes_in_last_block(a_.get(), 1);
    if (archive_write_open2(a_.get(), &client_, nullptr, sink_write, nullptr, nullptr) !=
        ARCHIVE_OK) {
      fail("open");
    }
  }

  void add(const LayerEntry& entry) {
    if (entry.kind == EntryKind::kWhiteout) {
      add_whiteout(entry.path);
    } else {
      add_from_tree(entry.path);
    }
    ++entries_;
  }

  void add(const SpecEntry& entry) {
    refuse_whiteout_name(entry.path);
    if (take_earlier(entry)) return;
    EntryPtr e(archive_entry_new());
    archive_entry_set_pathname(e.get(), entry.path.c_str());
    archive_entry_set_mode(e.get(), entry.mode);
    archive_entry_set_uid(e.get(), entry.uid);
    archive_entry_set_gid(e.get(), entry.gid);
    archive_entry_set_mtime(e.get(), clamp(entry.mtime), 0);
    ++entries_;
    bool regular = S_ISREG(entry.mode);
    if (regular && entry.link_group >= 0) {
      auto [it, first] = groups_.emplace(entry.link_group, entry.path);
      if (!first) {
        archive_entry_set_hardlink(e.get(), it->second.c_str());
        archive_entry_set_size(e.get(), 0);
        write_header(e.get(), entry.path, &entry.fingerprint);
        return;
      }
    }
    if (S_ISLNK(entry.mode)) archive_entry_set_symlink(e.get(), entry.link_target.c_str());
    for (const auto& [name, value] : entry.xattrs) {
      archive_entry_xattr_add_entry(e.get(), name.c_str(), value.data(), value.size());
    }
    if (!regular) {
      archive_entry_set_size(e.get(), 0);
      write_header(e.get(), entry.path, &entry.fingerprint);
      return;
    }
    if (entry.content) {
      archive_entry_set_size(e.get(), static_cast<la_int64_t>(entry.content->size()));
      write_header(e.get(), entry.path, &entry.fingerprint);
      auto size = static_cast<la_ssize_t>(entry.content->size());
      if (size > 0 &&
          archive_write_data(a_.get(), entry.content->data(), entry.content->size()) != size) {
        fail(entry.path);
      }
      return;
    }
    UniqueFd fd =
        open_beneath(entry.content_root, entry.content_path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    struct stat st {};
    if (!fd || ::fstat(fd.get(), &st) != 0) throw sys_error("open", entry.content_path);
    if (!S_ISREG(st.st_mode)) {
      throw Error(describe("read", entry.content_path, "is no longer a regular file"));
    }
    archive_entry_set_size(e.get(), st.st_size);
    write_header(e.get(), entry.path, &entry.fingerprint);
    copy_data(fd.get(), st.st_size, entry.content_path);
  }

  /// The spec entries with a fingerprint, where they are in the tar (LayerBlob::written).
  std::vector<std::pair<std::string_view, EarlierEntry>> take_written() {
    return std::move(written_);
  }
  int64_t reused() const { return reused_; }
  /// `count` spec entries follow: room for them in written_ at once (not twice it, grown).
  void expect(std::size_t count) {
    if (index_) written_.reserve(count);
  }

  TarWriter(const TarWriter&) = delete;
  TarWriter& operator=(const TarWriter&) = delete;
  /// Not closed: a write that failed or was interrupted. Freeing the archive closes it, which
  /// pads the current entry to its size (gigabytes of zeros for a big file): abandoned, the
  /// client fails the first write of that at once. (archive_write_fail would skip the close,
  /// but then libarchive leaks its client buffer.)
  ~TarWriter() {
    if (!closed_) client_.abandoned = true;
  }

  int64_t close() {
    closed_ = true;
    if (archive_write_finish_entry(a_.get()) != ARCHIVE_OK) fail("close");
    end_written(sink_.tar_offset());
    if (archive_write_close(a_.get()) != ARCHIVE_OK) fail("close");
    return entries_;
  }

 private:
  [[noreturn]] void fail(const std::string& what) {
    throw Error(describe("write layer", what, archive_message(a_.get(), "libarchive failed")));
  }

  void check_going(const std::string& path) const {
    if (options_.keep_going && !options_.keep_going()) {
      throw Error(describe("write layer", path, "interrupted"));
    }
  }

  /// Starts an entry in the stream: the previous entry's padding first, so a gzip block cut
  /// here starts with this entry, and where it starts noted when it has a fingerprint.
  void start_entry(const std::string& path, const std::string* fingerprint) {
    check_going(path);
    if (archive_write_finish_entry(a_.get()) != ARCHIVE_OK) fail(path);
    sink_.entry_start(path);
    int64_t at = sink_.tar_offset();
    end_written(at);
    if (index_ && fingerprint) {
      written_.push_back({path, EarlierEntry{*fingerprint, at, 0}});
      open_written_ = true;
    }
  }

  void end_written(int64_t at) {
    if (open_written_) written_.back().second.tar_size = at - written_.back().second.tar_offset;
    open_written_ = false;
  }

  /// An entry the earlier layer holds with the same fingerprint: its tar bytes are taken from
  /// there (the same metadata and content give the same bytes) without reading its source.
  bool take_earlier(const SpecEntry& entry) {
    if (!earlier_ || entry.fingerprint.empty()) return false;
    const EarlierEntry* earlier = earlier_->find(entry.path, cursor_);
    if (!earlier || earlier->fingerprint != entry.fingerprint) return false;
    if (S_ISREG(entry.mode) && entry.link_group >= 0) return false;
    start_entry(entry.path, &entry.fingerprint);
    sink_.write_earlier(earlier->tar_offset, earlier->tar_size);
    ++entries_;
    ++reused_;
    return true;
  }

  /// Writes the header of `e`; `fingerprint` is a spec entry's (noted in written_, even empty).
  void write_header(archive_entry* e, const std::string& path,
                    const std::string* fingerprint = nullptr) {
    start_entry(path, fingerprint);
    Utf8Names names;
    // ARCHIVE_WARN: a name that is not UTF-8, written as bytes (Utf8Names); nothing is lost.
    int rc = archive_write_header(a_.get(), e);
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) fail(path);
  }

  void add_whiteout(const std::string& path) {
    EntryPtr e(archive_entry_new());
    archive_entry_set_pathname(e.get(), path.c_str());
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), 0);
    archive_entry_set_size(e.get(), 0);
    archive_entry_set_mtime(e.get(), 0, 0);
    write_header(e.get(), path);
  }

  int64_t clamp(int64_t t) const {
    if (options_.source_date_epoch && t > *options_.source_date_epoch) {
      return *options_.source_date_epoch;
    }
    return t;
  }

  /// A file of the tree (a context file, one a RUN made) named `.wh.*` would be read by every
  /// other store as a deletion: the layer format cannot carry it, so it is refused by name.
  static void refuse_whiteout_name(const std::string& path) {
    size_t slash = path.find_last_of('/');
    std::string_view leaf =
        std::string_view(path).substr(slash == std::string::npos ? 0 : slash + 1);
    if (leaf.rfind(".wh.", 0) == 0) {
      throw Error(describe("write layer", path,
                           "a file named .wh.* cannot be stored in a layer (in OCI and Docker "
                           "layers the name means a deletion); rename it or leave it out"));
    }
  }

  void add_from_tree(const std::string& path) {
    refuse_whiteout_name(path);
    UniqueFd fd = open_beneath(root_, path, O_PATH | O_NOFOLLOW);
    struct stat st {};
    if (!fd || ::fstatat(fd.get(), "", &st, AT_EMPTY_PATH) != 0) throw sys_error("read", path);
    if (S_ISREG(st.st_mode)) {
      fd = open_beneath(root_, path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
      struct stat again {};
      if (!fd || ::fstat(fd.get(), &again) != 0) throw sys_error("open", path);
      if (again.st_ino != st.st_ino || again.st_dev != st.st_dev) {
        throw Error(describe("read", path, "changed while being read"));
      }
    } else if (S_ISDIR(st.st_mode)) {
      fd = open_beneath(root_, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      if (!fd) throw sys_error("open", path);
    }
    EntryPtr e(archive_entry_new());
    archive_entry_set_pathname(e.get(), path.c_str());
    archive_entry_set_mode(e.get(), st.st_mode);
    archive_entry_set_uid(e.get(), st.st_uid);
    archive_entry_set_gid(e.get(), st.st_gid);
    archive_entry_set_mtime(e.get(), clamp(st.st_mtim.tv_sec), 0);
    if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
      auto [it, first] = links_.emplace(std::make_pair(st.st_dev, st.st_ino), path);
      if (!first) {
        archive_entry_set_hardlink(e.get(), it->second.c_str());
        archive_entry_set_size(e.get(), 0);
        write_header(e.get(), path);
        return;
      }
    }
    if (S_ISLNK(st.st_mode)) set_link_target(e.get(), fd.get(), path);
    if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
      archive_entry_set_rdevmajor(e.get(), major(st.st_rdev));
      archive_entry_set_rdevminor(e.get(), minor(st.st_rdev));
    }
    if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
      for (const auto& [name, value] : kept_xattrs(fd.get())) {
        archive_entry_xattr_add_entry(e.get(), name.c_str(), value.data(), value.size());
      }
    }
    archive_entry_set_size(e.get(), S_ISREG(st.st_mode) ? st.st_size : 0);
    write_header(e.get(), path);
    if (S_ISREG(st.st_mode)) copy_data(fd.get(), st.st_size, path);
  }

  void set_link_target(archive_entry* e, int fd, const std::string& path) {
    std::string target(4097, '\0');
    ssize_t n = ::readlinkat(fd, "", target.data(), target.size());
    if (n < 0) throw sys_error("read link", path);
    if (static_cast<std::size_t>(n) >= target.size()) {
      throw Error(describe("read link", path, "target too long"));
    }
    target.resize(static_cast<std::size_t>(n));
    archive_entry_set_symlink(e, target.c_str());
  }

  void copy_data(int fd, int64_t size, const std::string& path) {
    // Not zero-filled: a small file touches (faults in) only the pages it is read into.
    if (!buffer_) buffer_ = std::make_unique_for_overwrite<char[]>(CompressedSink::kBlockSize);
    while (size > 0) {
      auto want = static_cast<std::size_t>(
          std::min<int64_t>(size, static_cast<int64_t>(CompressedSink::kBlockSize)));
      ssize_t n = ::read(fd, buffer_.get(), want);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw sys_error("read", path);
      if (n == 0) break;  // shrank while read: libarchive pads the rest with zeros
      if (archive_write_data(a_.get(), buffer_.get(), static_cast<size_t>(n)) != n) fail(path);
      size -= n;
      check_going(path);
    }
  }

  int root_;
  CompressedSink& sink_;
  const LayerOptions& options_;
  SinkClient client_;  ///< outlives a_, which writes into it until freed
  ArchivePtr a_;
  std::map<std::pair<dev_t, ino_t>, std::string> links_;
  std::map<int64_t, std::string> groups_;
  std::unique_ptr<char[]> buffer_;  ///< copy_data's, CompressedSink::kBlockSize bytes
  int64_t entries_ = 0;
  bool closed_ = false;
  const EarlierEntries* earlier_ = nullptr;  ///< an earlier layer's entries to take bytes from
  std::size_t cursor_ = 0;                   ///< earlier_'s, for find()
  bool index_ = options_.index_members || options_.earlier != nullptr;  ///< fill written_
  std::vector<std::pair<std::string_view, EarlierEntry>> written_;
  bool open_written_ = false;  ///< written_.back() still grows
  int64_t reused_ = 0;
};

void sort_entries(std::vector<LayerEntry>& entries) {
  std::sort(entries.begin(), entries.end(), [](const LayerEntry& a, const LayerEntry& b) {
    return layer_path_less(a.path, b.path);
  });
  auto same = [](const LayerEntry& a, const LayerEntry& b) { return a.path == b.path; };
  entries.erase(std::unique(entries.begin(), entries.end(), same), entries.end());
}

}  // namespace

EarlierEntries& EarlierEntries::operator=(EarlierEntries other) noexcept {
  list_ = std::move(other.list_);
  index_.clear();
  indexed_ = false;
  return *this;
}

const EarlierEntry* EarlierEntries::find(std::string_view path, std::size_t& cursor) const {
  if (cursor < list_.size() && list_[cursor].first == path) return &list_[cursor++].second;
  if (!indexed_.load(std::memory_order_acquire)) {
    std::lock_guard lock(mutex_);
    if (!indexed_.load(std::memory_order_relaxed)) {
      index_.reserve(list_.size());
      for (std::size_t i = 0; i < list_.size(); ++i) index_.emplace(list_[i].first, i);
      indexed_.store(true, std::memory_order_release);
    }
  }
  auto it = index_.find(path);
  if (it == index_.end()) return nullptr;
  cursor = it->second + 1;
  return &list_[it->second].second;
}

bool layer_path_less(const std::string& a, const std::string& b) {
  auto key = [](char c) { return c == '/' ? 0 : static_cast<unsigned char>(c) + 1; };
  std::size_t n = std::min(a.size(), b.size());
  std::size_t i = 0;
  // The common prefix eight bytes at a time: sorting 100,000 paths compares millions of them.
  for (; i + 8 <= n; i += 8) {
    std::uint64_t x, y;
    std::memcpy(&x, a.data() + i, 8);
    std::memcpy(&y, b.data() + i, 8);
    if (x != y) break;
  }
  for (; i < n; ++i) {
    if (a[i] != b[i]) return key(a[i]) < key(b[i]);
  }
  return a.size() < b.size();
}

std::vector<const SpecEntry*> in_layer_order(const std::vector<SpecEntry>& entries) {
  std::vector<const SpecEntry*> sorted;
  sorted.reserve(entries.size());
  for (const auto& e : entries) sorted.push_back(&e);
  auto less = [](const SpecEntry* a, const SpecEntry* b) {
    return layer_path_less(a->path, b->path);
  };
  if (!std::is_sorted(sorted.begin(), sorted.end(), less)) {
    std::sort(sorted.begin(), sorted.end(), less);
  }
  return sorted;
}

std::vector<std::pair<std::string, std::string>> layer_xattrs(int fd) { return kept_xattrs(fd); }

void prepare_layer_writing(Background& beside) {
  static std::atomic<bool> started{false};
  if (started.exchange(true)) return;
  beside.run([] {
    // A header of the format TarWriter writes, into nothing.
    ArchivePtr a(archive_write_new());
    archive_write_set_format_pax_restricted(a.get());
    if (archive_write_open2(a.get(), nullptr, nullptr, discard_write, nullptr, nullptr) !=
        ARCHIVE_OK) {
      return;
    }
    EntryPtr e(archive_entry_new());
    archive_entry_set_pathname(e.get(), "prepare");
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_size(e.get(), 0);
    Utf8Names names;
    archive_write_header(a.get(), e.get());
  });
}

std::string layer_media_type(Compression compression) {
  switch (compression) {
    case Compression::kNone:
      return "application/vnd.oci.image.layer.v1.tar";
    case Compression::kGzip:
      return "application/vnd.oci.image.layer.v1.tar+gzip";
    case Compression::kZstd:
      return "application/vnd.oci.image.layer.v1.tar+zstd";
  }
  return "";
}

namespace {

/// Creates `out_file`, runs `fill` on a tar writer feeding it and returns what was written;
/// the file is removed again when anything fails.
template <typename Fill>
LayerBlob write_blob(int root, const fs::path& out_file, const LayerOptions& options, Fill fill) {
  UniqueFd out(::open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!out) throw sys_error("create", out_file.string());
  try {
    CompressedSink sink(std::move(out), options.compression, options.level, options.threads,
                        options.index_members, options.earlier);
    TarWriter tar(root, sink, options);
    fill(tar);
    int64_t count = tar.close();
    SinkResult r = sink.finish();
    LayerBlob blob{out_file,
                   r.digest,
                   r.diff_id,
                   r.size,
                   r.tar_size,
                   count,
                   layer_media_type(options.compression)};
    blob.members = std::move(r.members);
    blob.members_reused = r.members_reused;
    blob.members_unread = r.members_unread;
    blob.entries_reused = tar.reused();
    blob.written = tar.take_written();
    if (!blob.members.empty()) blob.member_format = reuse_format(options.level);
    return blob;
  } catch (const EarlierMismatch&) {
    std::error_code ec;
    fs::remove(out_file, ec);
    throw;
  } catch (const std::exception& e) {
    std::error_code ec;
    fs::remove(out_file, ec);
    throw with_context("write layer `" + out_file.string() + "`", e);
  }
}

}  // namespace

LayerBlob write_layer(const fs::path& source_root, std::vector<LayerEntry> entries,
                      const fs::path& out_file, const LayerOptions& options) {
  sort_entries(entries);
  UniqueFd root = open_tree_root(source_root);
  return write_blob(root.get(), out_file, options, [&](TarWriter& tar) {
    for (const LayerEntry& entry : entries) tar.add(entry);
  });
}

LayerBlob write_layer_spec(const std::vector<SpecEntry>& entries, const fs::path& out_file,
                           const LayerOptions& options) {
  std::vector<const SpecEntry*> sorted = in_layer_order(entries);
  for (std::size_t i = 1; i < sorted.size(); ++i) {
    if (sorted[i]->path == sorted[i - 1]->path) {
      throw Error(describe("write layer", sorted[i]->path, "appears twice"));
    }
  }
  auto write = [&](const LayerOptions& o) {
    return write_blob(-1, out_file, o, [&](TarWriter& tar) {
      tar.expect(sorted.size());
      for (const SpecEntry* entry : sorted) tar.add(*entry);
    });
  };
  try {
    return write(options);
  } catch (const EarlierMismatch& e) {
    // A damaged earlier blob or record: a miss, never other bytes.
    spdlog::debug("write layer `{}`: the earlier layer not used: {}", out_file.string(), e.what());
    LayerOptions alone = options;
    alone.earlier = nullptr;
    return write(alone);
  }
}

std::string entry_fingerprint(const SpecEntry& e) {
  if (S_ISREG(e.mode) && (e.link_group >= 0 || (e.digest.empty() && !e.content))) return "";
  std::string s;
  s.reserve(200 + e.path.size() + e.link_target.size());
  auto field = [&s](std::string_view v) { s.append(v).push_back('\0'); };
  auto number = [&s](int64_t n) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);
    s.append(buf, end).push_back('\0');
  };
  field("mkimg entry 1");
  field(e.path);
  for (int64_t n : {int64_t{e.mode}, int64_t{e.uid}, int64_t{e.gid}, e.mtime, e.mtime_nsec}) {
    number(n);
  }
  field(e.link_target);
  number(static_cast<int64_t>(e.xattrs.size()));
  for (const auto& [name, value] : e.xattrs) {
    field(name);
    number(static_cast<int64_t>(value.size()));
    field(value);
  }
  if (S_ISREG(e.mode)) field(e.content ? oci::sha256_of(*e.content).str() : e.digest);
  unsigned char md[32];
  oci::sha256_bytes(s, md);
  return std::string(reinterpret_cast<const char*>(md), 15);
}

void fingerprint_entries(std::vector<SpecEntry>& entries) {
  for_each_range(entries.size(), core_threads(8), 2048,
                 [&entries](std::size_t begin, std::size_t end) {
                   for (std::size_t i = begin; i < end; ++i)
                     entries[i].fingerprint = entry_fingerprint(entries[i]);
                 });
}

LayerBlob write_layer_from_dir(const fs::path& root, const fs::path& out_file,
                               const LayerOptions& options) {
  UniqueFd fd = open_tree_root(root);
  std::vector<LayerEntry> entries;
  walk_tree(fd.get(), [&](const std::string& rel, const struct stat&) {
    entries.push_back(LayerEntry{rel, EntryKind::kTree});
    return true;
  });
  return write_layer(root, std::move(entries), out_file, options);
}

int64_t write_tar_from_dir(const fs::path& root, int out, const LayerOptions& options) {
  UniqueFd fd = open_tree_root(root);
  UniqueFd sink_fd(::fcntl(out, F_DUPFD_CLOEXEC, 0));
  if (!sink_fd) throw sys_error("write", "tar stream");
  CompressedSink sink(std::move(sink_fd), Compression::kNone, 0, 1);
  TarWriter tar(fd.get(), sink, options);
  // walk_tree visits parents first and names sorted bytewise: the order layer_path_less sorts.
  walk_tree(fd.get(), [&](const std::string& rel, const struct stat&) {
    tar.add(LayerEntry{rel, EntryKind::kTree});
    return true;
  });
  int64_t count = tar.close();
  sink.finish();
  return count;
}

}  // namespace mkimg::snapshot
