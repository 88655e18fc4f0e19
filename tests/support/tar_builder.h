// Test helper: hand-made tar layers (libarchive), so tests can build hostile and golden
// layers entry by entry, and small tree helpers shared by the snapshot tests.
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace mkimg::snapshot::testing {

namespace fs = std::filesystem;

/// One entry of a hand-made tar.
struct TarEntry {
  enum class Type { kFile, kDir, kSymlink, kHardlink, kChr, kBlk, kFifo };
  std::string name;
  Type type = Type::kFile;
  std::string data;  ///< content, or the link target
  mode_t perm = 0644;
  int64_t uid = 0, gid = 0;
  int64_t mtime = 1000000000;
  unsigned major = 0, minor = 0;
  std::vector<std::pair<std::string, std::string>> xattrs;
};

inline TarEntry file(std::string name, std::string data = "x", mode_t perm = 0644) {
  return TarEntry{std::move(name), TarEntry::Type::kFile, std::move(data), perm};
}
inline TarEntry dir(std::string name, mode_t perm = 0755) {
  return TarEntry{std::move(name), TarEntry::Type::kDir, "", perm};
}
inline TarEntry symlink(std::string name, std::string target) {
  return TarEntry{std::move(name), TarEntry::Type::kSymlink, std::move(target), 0777};
}
inline TarEntry hardlink(std::string name, std::string target) {
  return TarEntry{std::move(name), TarEntry::Type::kHardlink, std::move(target), 0644};
}

inline la_ssize_t append_to_string(archive*, void* out, const void* data, size_t size) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(data), size);
  return static_cast<la_ssize_t>(size);
}

/// The entries as a PAX tar.
inline std::string make_tar(const std::vector<TarEntry>& entries) {
  std::string out;
  archive* a = archive_write_new();
  archive_write_set_format_pax(a);
  archive_write_open2(a, &out, nullptr, append_to_string, nullptr, nullptr);
  for (const TarEntry& t : entries) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, t.name.c_str());
    archive_entry_set_perm(e, t.perm);
    archive_entry_set_uid(e, t.uid);
    archive_entry_set_gid(e, t.gid);
    archive_entry_set_mtime(e, t.mtime, 0);
    using T = TarEntry::Type;
    switch (t.type) {
      case T::kFile:
        archive_entry_set_filetype(e, AE_IFREG);
        break;
      case T::kDir:
        archive_entry_set_filetype(e, AE_IFDIR);
        break;
      case T::kSymlink:
        archive_entry_set_filetype(e, AE_IFLNK);
        archive_entry_set_symlink(e, t.data.c_str());
        break;
      case T::kHardlink:
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_hardlink(e, t.data.c_str());
        break;
      case T::kChr:
        archive_entry_set_filetype(e, AE_IFCHR);
        break;
      case T::kBlk:
        archive_entry_set_filetype(e, AE_IFBLK);
        break;
      case T::kFifo:
        archive_entry_set_filetype(e, AE_IFIFO);
        break;
    }
    if (t.type == T::kChr || t.type == T::kBlk) {
      archive_entry_set_rdevmajor(e, t.major);
      archive_entry_set_rdevminor(e, t.minor);
    }
    for (const auto& [k, v] : t.xattrs)
      archive_entry_xattr_add_entry(e, k.c_str(), v.data(), v.size());
    bool has_data = t.type == T::kFile;
    archive_entry_set_size(e, has_data ? static_cast<int64_t>(t.data.size()) : 0);
    archive_write_header(a, e);
    if (has_data) archive_write_data(a, t.data.data(), t.data.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

/// `bytes` gzipped (one member, default level).
inline std::string gzip(const std::string& bytes) {
  z_stream s{};
  deflateInit2(&s, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&s, bytes.size()) + 64, '\0');
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  s.avail_in = static_cast<uInt>(bytes.size());
  s.next_out = reinterpret_cast<Bytef*>(out.data());
  s.avail_out = static_cast<uInt>(out.size());
  deflate(&s, Z_FINISH);
  out.resize(out.size() - s.avail_out);
  deflateEnd(&s);
  return out;
}

inline void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
}

inline std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

/// `n` bytes of text-like content (compressible, not trivially), the same for the same seed.
inline std::string pseudo_random(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>("abcdefgh  \n0123"[gen() % 15]);
  return s;
}

}  // namespace mkimg::snapshot::testing
