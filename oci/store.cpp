// Store: opening the layout, blobs, and garbage collection. Tags live in store_index.cpp.
#include "oci/store.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <unordered_set>

#include "common/error.h"
#include "common/in_root.h"
#include "oci/file_io.h"
#include "oci/media_types.h"

namespace mkimg::oci {
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kLayoutFile = R"({"imageLayoutVersion":"1.0.0"})";
constexpr std::string_view kEmptyIndex =
    R"({"manifests":[],"mediaType":"application/vnd.oci.image.index.v1+json","schemaVersion":2})";

void flock_or_throw(int fd, int operation, const fs::path& path) {
  while (::flock(fd, operation) != 0) {
    if (errno != EINTR) throw sys_error("lock", path.string());
  }
}

/// Marks `dir` as the top of directory hierarchies (FS_TOPDIR_FL, `chattr +T`): ext4's Orlov
/// allocator then spreads its subdirectories over the block groups instead of packing them into
/// its own. tmp/ and layers/ hold independent trees (a step's upper directory, a layer): packed,
/// a new tree's inodes are taken among those of trees just deleted, and ext4 without a journal
/// skips every recently deleted inode one by one (5,000 files of a COPY written in 2.2 s right
/// after a store was removed, 0.3 s with the flag). Best effort: other file systems ignore it.
void mark_top_directory(const fs::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  int flags = 0;
  if (!fd || ::ioctl(fd.get(), FS_IOC_GETFLAGS, &flags) != 0 || (flags & FS_TOPDIR_FL)) return;
  flags |= FS_TOPDIR_FL;
  ::ioctl(fd.get(), FS_IOC_SETFLAGS, &flags);
}

/// The store's own directories are cleaned and collected without a second look: one that is a
/// symlink would have mkimg delete what the link points at, outside the store. The store's
/// root itself may be a link (a store moved to another disk); nothing inside it may.
void refuse_symlink(const fs::path& dir) {
  struct stat st {};
  if (::lstat(dir.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
    throw Error("`" + dir.string() +
                "` is a symlink; a store's directories must be real directories (mkimg "
                "cleans them without following links): replace it with a directory, or "
                "give --root the store's real place");
  }
}

constexpr const char* kStoreDirs[] = {
    "oci", "oci/blobs", "oci/blobs/sha256", "oci/blobs/sha512", "layers", "cache", "tmp"};

void create_layout(const fs::path& root) {
  detail::make_private_dir(root);
  for (const char* sub : kStoreDirs) {
    refuse_symlink(root / sub);
    detail::make_private_dir(root / sub);
  }
  mark_top_directory(root / "tmp");
  mark_top_directory(root / "layers");
  if (!fs::exists(root / "oci/oci-layout")) {
    write_file_atomic(root / "oci/oci-layout", kLayoutFile, Flush::kWithDirectory, root / "tmp");
  }
}

void create_index_if_missing(const fs::path& root) {
  if (fs::exists(root / "oci/index.json")) return;
  fs::path lock_path = root / "index.lock";
  UniqueFd lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lock) throw sys_error("open", lock_path.string());
  flock_or_throw(lock.get(), LOCK_EX, lock_path);
  if (!fs::exists(root / "oci/index.json")) {
    write_file_atomic(root / "oci/index.json", kEmptyIndex, Flush::kWithDirectory, root / "tmp");
  }
}

// Everything reachable from `root`: the blob itself, an index's manifests, a manifest's
// config and layers. Missing children (platforms not pulled) are skipped.
void mark(const Store& store, const Descriptor& d, std::unordered_set<Digest>& live) {
  if (!live.insert(d.digest).second || !store.has_blob(d.digest)) return;
  if (!media_type::is_index(d.media_type) && !media_type::is_manifest(d.media_type)) return;
  try {
    auto doc = parse_manifest_document(store.read_blob(d.digest), d.media_type);
    if (auto* index = std::get_if<Index>(&doc)) {
      for (const auto& m : index->manifests) mark(store, m, live);
    } else {
      const auto& manifest = std::get<Manifest>(doc);
      live.insert(manifest.config.digest);
      for (const auto& l : manifest.layers) live.insert(l.digest);
    }
  } catch (const Error&) {
    // An unreadable document keeps itself but nothing else; gc never fails on it.
  }
}

}  // namespace

void Store::clear_tmp() const {
  if (clear_leftovers_) clear_leftovers_(tmp_dir());
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(tmp_dir(), ec)) fs::remove_all(entry.path(), ec);
}

Store Store::open_to_read(const fs::path& root) {
  for (const char* sub : kStoreDirs) refuse_symlink(root / sub);
  Store store(root);
  fs::path lock_path = root / "lock";
  store.store_lock_ = UniqueFd(::open(lock_path.c_str(), O_RDONLY | O_CLOEXEC));
  // Without a lock file to read (none yet, or not ours to read) the store is read unlocked:
  // nothing of it changes while a read-only file system holds it.
  if (store.store_lock_) flock_or_throw(store.store_lock_.get(), LOCK_SH, lock_path);
  return store;
}

Store Store::open(const fs::path& root_in, const OpenOptions& options) {
  if (root_in.empty()) throw Error("open store ``: empty path");
  fs::path root = fs::absolute(root_in).lexically_normal();
  try {
    if (options.read_only && fs::exists(root / "oci/index.json")) return open_to_read(root);
    fs::create_directories(root.parent_path());
    detail::make_private_dir(root);
    Store store(root);
    store.clear_leftovers_ = options.clear_leftovers;
    fs::path lock_path = root / "lock";
    store.store_lock_ = UniqueFd(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!store.store_lock_) throw sys_error("open", lock_path.string());
    // The layout is created and tmp/ emptied only under the exclusive lock, so a process that
    // creates the store never has its temp files removed by another one opening it.
    if (::flock(store.store_lock_.get(), LOCK_EX | LOCK_NB) == 0) {
      create_layout(root);
      store.clear_tmp();  // nobody else has the store open
    }
    flock_or_throw(store.store_lock_.get(), LOCK_SH, lock_path);
    create_layout(root);  // a no-op unless the store was made by an older process
    create_index_if_missing(root);
    return store;
  } catch (const Error& e) {
    throw with_context("open store `" + root.string() + "`", e);
  } catch (const fs::filesystem_error& e) {
    throw Error(describe("open store", root.string(), e.what()));
  }
}

fs::path Store::blob_path(const Digest& digest) const {
  if (digest.empty()) throw Error("locate blob ``: empty digest");
  return layout_dir() / "blobs" / std::string(digest.algorithm_name()) / digest.encoded();
}

bool Store::has_blob(const Digest& digest) const {
  struct stat st {};
  return ::stat(blob_path(digest).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::optional<std::int64_t> Store::blob_size(const Digest& digest) const {
  struct stat st {};
  if (::stat(blob_path(digest).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  return static_cast<std::int64_t>(st.st_size);
}

std::string Store::read_blob(const Digest& digest, std::size_t max_size) const {
  if (!has_blob(digest)) throw Error(describe("read blob", digest.str(), "not in the store"));
  return detail::read_capped(blob_path(digest), max_size);
}

UniqueFd Store::open_blob(const Digest& digest) const {
  if (!has_blob(digest)) throw Error(describe("open blob", digest.str(), "not in the store"));
  return detail::open_read(blob_path(digest));
}

BlobWriter Store::begin_blob(DigestAlgorithm algorithm) const {
  return BlobWriter(*this, algorithm);
}

Descriptor Store::put_blob(std::string_view bytes, std::string_view media_type,
                           const BlobExpectation& expected) const {
  DigestAlgorithm algorithm =
      expected.digest ? expected.digest->algorithm() : DigestAlgorithm::kSha256;
  Digest digest = digest_of(algorithm, bytes);
  auto size = static_cast<std::int64_t>(bytes.size());
  if (has_blob(digest) && (!expected.digest || *expected.digest == digest) &&
      (!expected.size || *expected.size == size)) {
    return Descriptor{.media_type = std::string(media_type), .digest = digest, .size = size};
  }
  BlobWriter writer = begin_blob(algorithm);
  writer.write(bytes);
  return writer.commit(media_type, expected);
}

std::int64_t Store::commit_file(const fs::path& file, const Digest& expected,
                                Verification verification) const {
  fs::path parent = fs::absolute(file).lexically_normal().parent_path();
  if (parent != tmp_dir() && !parent.string().starts_with(tmp_dir().string() + "/")) {
    throw Error(describe("commit blob", file.string(), "file is not inside the store's tmp/"));
  }
  UniqueFd fd = detail::open_read(file);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    throw Error(describe("commit blob", file.string(), "not a regular file"));
  }
  if (verification == Verification::kRehash) {
    Digest actual = digest_of_fd(expected.algorithm(), fd.get(), file);
    if (actual != expected) {
      throw Error(describe("commit blob", expected.str(), "file has digest " + actual.str()));
    }
  }
  if (verification == Verification::kRehash) detail::fsync_fd(fd.get(), file);
  fs::path target = blob_path(expected);
  if (::rename(file.c_str(), target.c_str()) != 0) throw sys_error("rename", target.string());
  return static_cast<std::int64_t>(st.st_size);
}

void Store::export_blob(const Digest& digest, const fs::path& layout_dir) const {
  fs::path dest = layout_dir / "blobs" / std::string(digest.algorithm_name()) / digest.encoded();
  std::error_code ec;
  if (fs::exists(dest, ec)) return;
  fs::path src = blob_path(digest);
  if (!fs::exists(src, ec)) throw Error(describe("export blob", digest.str(), "not in the store"));
  fs::create_directories(dest.parent_path());
  fs::path tmp = dest;
  tmp += ".tmp-" + detail::random_hex(6);
  if (::link(src.c_str(), tmp.c_str()) != 0) {
    fs::copy_file(src, tmp, fs::copy_options::overwrite_existing);
  }
  fs::rename(tmp, dest);
}

fs::path Store::temp_path(std::string_view prefix) const {
  return tmp_dir() /
         (std::string(prefix) + "-" + std::to_string(::getpid()) + "-" + detail::random_hex(8));
}

namespace {

/// gc's sweep: every blob not in `live`.
GcResult sweep(const Store& store, const std::unordered_set<Digest>& live) {
  GcResult result;
  for (const char* algorithm : kDigestAlgorithmNames) {
    fs::path dir = store.layout_dir() / "blobs" / algorithm;
    std::error_code ec;
    for (const auto& file : fs::directory_iterator(dir, ec)) {
      auto digest =
          Digest::try_parse(std::string(algorithm) + ":" + file.path().filename().string());
      if (digest && live.contains(*digest)) continue;
      auto size = file.is_regular_file(ec) ? static_cast<std::int64_t>(file.file_size(ec)) : 0;
      if (fs::remove_all(file.path(), ec) > 0) {
        ++result.blobs_removed;
        result.bytes_removed += size;
      }
    }
    detail::fsync_dir(dir);
  }
  return result;
}

/// GcOptions::choose's blobs, those of them not in `live`.
GcResult remove_chosen(const Store& store, const std::vector<Digest>& chosen,
                       const std::unordered_set<Digest>& live) {
  GcResult result;
  std::unordered_set<Digest> done;
  for (const Digest& digest : chosen) {
    if (live.contains(digest) || !done.insert(digest).second) continue;
    fs::path file = store.blob_path(digest);
    std::error_code ec;
    auto size = static_cast<std::int64_t>(fs::file_size(file, ec));
    if (!ec && fs::remove(file, ec)) {
      ++result.blobs_removed;
      result.bytes_removed += size;
    }
  }
  if (result.blobs_removed > 0) {
    for (const char* algorithm : kDigestAlgorithmNames) {
      detail::fsync_dir(store.layout_dir() / "blobs" / algorithm);
    }
  }
  return result;
}

}  // namespace

std::unordered_set<Digest> Store::reached(const std::vector<Digest>& keep) const {
  std::unordered_set<Digest> live(keep.begin(), keep.end());
  for (const auto& entry : list()) mark(*this, entry.manifest, live);
  return live;
}

GcResult Store::gc(const GcOptions& options) const {
  fs::path lock_path = root_ / "lock";
  if (::flock(store_lock_.get(), LOCK_EX | LOCK_NB) != 0) {
    if (options.on_wait) options.on_wait();
    flock_or_throw(store_lock_.get(), LOCK_EX, lock_path);
  }
  GcResult result;
  try {
    std::unordered_set<Digest> live = reached(options.keep);
    result = options.choose ? remove_chosen(*this, options.choose(live), live) : sweep(*this, live);
    clear_tmp();
    if (options.while_exclusive) options.while_exclusive();
  } catch (...) {
    flock_or_throw(store_lock_.get(), LOCK_SH, lock_path);
    throw;
  }
  flock_or_throw(store_lock_.get(), LOCK_SH, lock_path);
  return result;
}

}  // namespace mkimg::oci
