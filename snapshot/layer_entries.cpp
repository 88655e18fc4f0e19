#include "snapshot/layer_entries.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <memory>

#include "common/archive_error.h"
#include "common/error.h"
#include "oci/digest.h"

namespace mkimg::snapshot {
namespace {

struct ReadDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};

/// What libarchive's read callback pulls from, and the first error the reader threw.
struct ReadContext {
  const BlobReader* read = nullptr;
  std::string buffer = std::string(256 * 1024, '\0');
  std::string error;
};

la_ssize_t read_callback(archive* a, void* data, const void** out) {
  auto* ctx = static_cast<ReadContext*>(data);
  try {
    *out = ctx->buffer.data();
    return static_cast<la_ssize_t>((*ctx->read)(ctx->buffer.data(), ctx->buffer.size()));
  } catch (const std::exception& e) {
    ctx->error = e.what();
    archive_set_error(a, EINVAL, "%s", e.what());
    return -1;
  }
}

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
                        const std::function<void(TarEntryInfo&&)>& visit) {
  ReadContext ctx;
  ctx.read = &read;
  std::unique_ptr<archive, ReadDeleter> a(archive_read_new());
  archive_read_support_format_tar(a.get());
  archive_read_support_filter_gzip(a.get());
  archive_read_support_filter_zstd(a.get());
  auto fail = [&](const char* what) -> Error {
    if (!ctx.error.empty()) return Error(describe("read layer", name, ctx.error));
    return Error(describe("read layer", name,
                          std::string(what) + ": " + archive_message(a.get(), "corrupt")));
  };
  if (archive_read_open(a.get(), &ctx, nullptr, read_callback, nullptr) != ARCHIVE_OK) {
    throw fail("open");
  }
  for (;;) {
    archive_entry* e = nullptr;
    int rc = archive_read_next_header(a.get(), &e);
    if (rc == ARCHIVE_EOF) break;
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) throw fail("tar header");
    TarEntryInfo info = describe_entry(e);
    if (info.type == TarEntryType::kFile) {
      oci::Sha256 hash;
      const void* block = nullptr;
      std::size_t length = 0;
      la_int64_t offset = 0;
      while ((rc = archive_read_data_block(a.get(), &block, &length, &offset)) == ARCHIVE_OK) {
        hash.update(block, length);
      }
      if (rc != ARCHIVE_EOF) throw fail(info.path.c_str());
      info.content_digest = hash.finish().str();
    }
    visit(std::move(info));
  }
}

}  // namespace mkimg::snapshot
