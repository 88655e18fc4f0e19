// Tar member reading over libarchive.
#include "oci/tar_reader.h"

#include <archive.h>
#include <archive_entry.h>

#include "common/archive_error.h"
#include "common/error.h"

namespace mkimg::oci::detail {
namespace fs = std::filesystem;

namespace {

struct ArchiveDeleter {
  void operator()(struct archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<struct archive, ArchiveDeleter>;

ArchivePtr open_archive(const fs::path& path) {
  ArchivePtr a(archive_read_new());
  archive_read_support_filter_all(a.get());
  archive_read_support_format_tar(a.get());
  if (archive_read_open_filename(a.get(), path.c_str(), 1 << 16) != ARCHIVE_OK) {
    throw Error(describe("open archive", path.string(), archive_message(a.get(), "cannot read")));
  }
  return a;
}

[[noreturn]] void fail(const fs::path& path, struct archive* a) {
  throw Error(describe("read archive", path.string(), archive_message(a, "corrupt or truncated")));
}

/// Owns an open archive positioned at one member's data.
class MemberStream : public BlobStream {
 public:
  MemberStream(ArchivePtr a, fs::path path) : a_(std::move(a)), path_(std::move(path)) {}
  std::size_t read(void* data, std::size_t size) override {
    la_ssize_t n = archive_read_data(a_.get(), data, size);
    if (n < 0) fail(path_, a_.get());
    return static_cast<std::size_t>(n);
  }

 private:
  ArchivePtr a_;
  fs::path path_;
};

std::string entry_name(struct archive_entry* e) {
  const char* name = archive_entry_pathname(e);
  return name ? normalise_member(name).value_or("") : "";
}

std::string parent_of(const std::string& name) {
  auto slash = name.rfind('/');
  return slash == std::string::npos ? "" : name.substr(0, slash + 1);
}

}  // namespace

std::optional<std::string> normalise_member(const std::string& name) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= name.size()) {
    auto slash = name.find('/', start);
    std::string part =
        name.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (part == "..") {
      if (parts.empty()) return std::nullopt;
      parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "/") + p;
  return out;
}

std::vector<std::string> list_tar_members(const fs::path& path) {
  ArchivePtr a = open_archive(path);
  std::vector<std::string> names;
  struct archive_entry* e = nullptr;
  int r;
  while ((r = archive_read_next_header(a.get(), &e)) == ARCHIVE_OK) {
    names.push_back(entry_name(e));
    if (names.size() > 1'000'000)
      throw Error(describe("read archive", path.string(), "too many entries"));
  }
  if (r != ARCHIVE_EOF) fail(path, a.get());
  return names;
}

std::unique_ptr<BlobStream> open_tar_member(const fs::path& path, const std::string& wanted) {
  std::string name = normalise_member(wanted).value_or("");
  for (int hop = 0; hop < 8; ++hop) {
    ArchivePtr a = open_archive(path);
    struct archive_entry* e = nullptr;
    int r;
    std::optional<std::string> next;
    while ((r = archive_read_next_header(a.get(), &e)) == ARCHIVE_OK) {
      if (entry_name(e) != name) continue;
      if (const char* hard = archive_entry_hardlink(e)) {
        next = normalise_member(hard);
      } else if (archive_entry_filetype(e) == AE_IFLNK) {
        const char* target = archive_entry_symlink(e);
        if (target && target[0] != '/') next = normalise_member(parent_of(name) + target);
      } else if (archive_entry_filetype(e) == AE_IFREG) {
        return std::make_unique<MemberStream>(std::move(a), path);
      }
      break;
    }
    if (r != ARCHIVE_OK && r != ARCHIVE_EOF) fail(path, a.get());
    if (!next || next->empty()) break;
    name = *next;
  }
  throw Error(describe("read archive", path.string(), "no file `" + wanted + "` in the archive"));
}

std::string read_stream(BlobStream& stream, std::size_t max_size, const std::string& what) {
  std::string out;
  char buf[65536];
  while (std::size_t n = stream.read(buf, sizeof buf)) {
    if (out.size() + n > max_size) {
      throw Error(describe("read", what, "larger than " + std::to_string(max_size) + " bytes"));
    }
    out.append(buf, n);
  }
  return out;
}

std::string read_tar_member(const fs::path& path, const std::string& name, std::size_t max_size) {
  auto stream = open_tar_member(path, name);
  return read_stream(*stream, max_size, path.string() + ":" + name);
}

}  // namespace mkimg::oci::detail
