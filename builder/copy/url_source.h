// ADD's remote sources, as BuildKit's Dockerfile frontend and HTTP source treat them: an
// http(s) URL is downloaded (never unpacked) to a file named after the last component of the
// URL's path ("__unnamed__" when there is none), mode 0600, owner 0:0, mtime from the
// Last-Modified header (the epoch without one). Downloads go to a file in the store's tmp/,
// hashed while they stream, capped at kMaxUrlDownload bytes; --checksum is checked before
// anything is used. An http(s) URL whose path ends in ".git" and git@/git:// /ssh:// sources
// are git repositories (git_source.h).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "common/temp_dir.h"
#include "oci/digest.h"

namespace mkimg::oci {
class Store;
}

namespace mkimg::builder {

/// The largest download ADD accepts (16 GiB).
inline constexpr std::uint64_t kMaxUrlDownload = std::uint64_t{16} << 30;

/// True for an http:// or https:// source that is not a git repository.
bool is_url_source(std::string_view source);
/// True for a source BuildKit clones as a git repository.
bool is_git_source(std::string_view source);

/// The file name BuildKit gives a download: the last component of the URL's decoded path
/// (trailing slashes ignored), "__unnamed__" when the path has none.
std::string url_file_name(std::string_view url);

/// Parses --checksum ("sha256:<hex>" or "sha512:<hex>"); throws mkimg::Error otherwise.
oci::Digest parse_add_checksum(std::string_view text);

/// A new directory in the store's tmp/ ("add-url-*") to hold downloads, removed with its files
/// when the TempDir goes.
TempDir make_download_dir(const oci::Store& store);

/// One downloaded URL.
struct UrlFile {
  std::string name;  ///< the file's name in the download directory
  oci::Digest digest;
  std::uint64_t size = 0;
  std::int64_t mtime = 0;  ///< Last-Modified, or 0
};

/// Downloads `url` into `dir` as file number `index`. With `expected`, the content must have
/// that digest: a mismatch throws mkimg::Error naming the URL and both digests. Throws
/// mkimg::Error naming the URL for HTTP errors, transport failures and oversized bodies.
UrlFile download_url(const std::string& url, const TempDir& dir, std::size_t index,
                     const std::optional<oci::Digest>& expected);

}  // namespace mkimg::builder
