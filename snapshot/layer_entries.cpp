#include "snapshot/layer_entries.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <memory>

#include "common/archive_error.h"
#include "common/error.h"
#include "oci/digest.h"
#include "snapshot/layer_stream.h"

namespace mkimg::snapshot {
namespace {

/// "./a//b/" -> "a/b" (a lexical clean-up for display and pairing; nothing is resolved).
std::string clean_path(std::string_view raw) {
  std::string out;
  std::size_t i = 0;
  while (i <= raw.size()) {
    std::size_t slash = raw.find('/', i);
    if (slash == std::string_view::npos) slash = raw.size();
    std::string_view part = raw.substr(i, slash - i);
    if (!part.empty() && part != ".") {
      if (!out.empty()) out += '/';
      out += part;
    }
    i = slash + 1;
  }
  return out;
}

TarEntryType entry_type(archive_entry* e) {
  if (archive_entry_hardlink(e) != nullptr) return TarEntryType::kHardlink;
  switch (archive_entry_filetype(e)) {
    case AE_IFDIR:
      return TarEntryType::kDirectory;
    case AE_IFLNK:
      return TarEntryType::kSymlink;
    case AE_IFCHR:
      return TarEntryType::kCharDevice;
    case AE_IFBLK:
      return TarEntryType::kBlockDevice;
    case AE_IFIFO:
      return TarEntryType::kFifo;
    default:
      return TarEntryType::kFile;
  }
}

TarEntryInfo describe_entry(archive_entry* e) {
  TarEntryInfo info;
  const char* path = archive_entry_pathname(e);
  info.path = clean_path(path ? path : "");
  info.type = entry_type(e);
  info.mode = static_cast<std::uint32_t>(archive_entry_perm(e) & 07777);
  info.uid = archive_entry_uid(e);
  info.gid = archive_entry_gid(e);
  info.size = info.type == TarEntryType::kFile ? archive_entry_size(e) : 0;
  info.mtime = archive_entry_mtime(e);
  info.mtime_nsec = archive_entry_mtime_nsec(e);
  if (const char* hard = archive_entry_hardlink(e)) info.link_target = clean_path(hard);
  if (const char* sym = archive_entry_symlink(e); sym && info.type == TarEntryType::kSymlink) {
    info.link_target = sym;
  }
  if (info.type == TarEntryType::kCharDevice || info.type == TarEntryType::kBlockDevice) {
    info.dev_major = archive_entry_rdevmajor(e);
    info.dev_minor = archive_entry_rdevminor(e);
  }
  archive_entry_xattr_reset(e);
  const char* key = nullptr;
  const void* value = nullptr;
  std::size_t size = 0;
  while (archive_entry_xattr_next(e, &key, &value, &size) == ARCHIVE_OK) {
    info.xattrs[key] = std::string(static_cast<const char*>(value), size);
  }
  return info;
}

}  // namespace

std::string_view to_string(TarEntryType type) {
  switch (type) {
    case TarEntryType::kFile:
      return "file";
    case TarEntryType::kDirectory:
      return "directory";
    case TarEntryType::kSymlink:
      return "symlink";
    case TarEntryType::kHardlink:
      return "hardlink";
    case TarEntryType::kCharDevice:
      return "char device";
    case TarEntryType::kBlockDevice:
      return "block device";
    case TarEntryType::kFifo:
      return "fifo";
  }
  return "?";
}

void read_layer_entries(const BlobReader& read, std::string_view name,
                        const std::function<void(TarEntryInfo&&)>& visit,
                        const std::string& expected_diff_id, const ApplyLimits& limits) {
  auto refuse = [&](const std::string& cause) {
    return Error(describe("read layer", name, cause));
  };
  // Every error names the layer: the stream's and the tar reader's their own way.
  LayerStream stream(std::string(name), read, limits);
  TarOfStream a(stream, limits.keep_going);
  int64_t entries = 0;
  for (;;) {
    archive_entry* e = nullptr;
    int rc = archive_read_next_header(a.get(), &e);
    if (rc == ARCHIVE_EOF) break;
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) throw a.failure("tar header");
    if (++entries > limits.max_entries) {
      throw refuse("more than " + std::to_string(limits.max_entries) + " entries, the limit");
    }
    TarEntryInfo info = describe_entry(e);
    std::size_t xattrs = 0;
    for (const auto& [key, value] : info.xattrs) xattrs += key.size() + value.size();
    auto max_path = static_cast<std::size_t>(limits.max_path_bytes);
    if (info.path.size() > max_path || info.link_target.size() > max_path) {
      throw refuse("an entry's name or link target is longer than " + std::to_string(max_path) +
                   " bytes, the limit");
    }
    if (xattrs > static_cast<std::size_t>(limits.max_xattr_bytes)) {
      throw refuse(info.path + ": xattrs larger than " + std::to_string(limits.max_xattr_bytes) +
                   " bytes, the limit");
    }
    if (info.type == TarEntryType::kFile) {
      oci::Sha256 hash;
      const void* block = nullptr;
      std::size_t length = 0;
      la_int64_t offset = 0;
      while ((rc = archive_read_data_block(a.get(), &block, &length, &offset)) == ARCHIVE_OK) {
        hash.update(block, length);
      }
      if (rc != ARCHIVE_EOF) throw a.failure(info.path);
      info.content_digest = hash.finish().str();
    }
    visit(std::move(info));
  }
  stream.drain();
  std::string diff_id = stream.diff_id();
  if (!expected_diff_id.empty() && diff_id != expected_diff_id) {
    throw refuse("its diff_id is " + diff_id + ", not " + expected_diff_id +
                 " as the image's config says");
  }
}

}  // namespace mkimg::snapshot
