#include "builder/copy/url_source.h"

#include <fcntl.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fd.h"
#include "oci/store.h"
#include "registry/http_client.h"
#include "runtime/cancel.h"
#include "runtime/container_runtime.h"

namespace mkimg::builder {
namespace {

bool has_http_scheme(std::string_view s) {
  return s.starts_with("http://") || s.starts_with("https://");
}

/// The path of an http(s) URL as written: after the authority, before '?' or '#'.
std::string_view raw_path(std::string_view url) {
  std::size_t start = url.find("://");
  start = start == std::string_view::npos ? 0 : start + 3;
  std::size_t slash = url.find_first_of("/?#", start);
  if (slash == std::string_view::npos || url[slash] != '/') return "";
  std::size_t end = url.find_first_of("?#", slash);
  return url.substr(slash, end == std::string_view::npos ? url.npos : end - slash);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// %XX escapes decoded (a malformed escape is kept as written).
std::string percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

}  // namespace

bool is_git_source(std::string_view source) {
  if (source.starts_with("git@") || source.starts_with("git://") || source.starts_with("ssh://")) {
    return true;
  }
  return has_http_scheme(source) && raw_path(source).ends_with(".git");
}

bool is_url_source(std::string_view source) {
  return has_http_scheme(source) && !is_git_source(source);
}

std::string url_file_name(std::string_view url) {
  // Go's path.Base of the decoded path, as BuildKit's frontend takes it.
  std::string path = percent_decode(raw_path(url));
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  std::string base = path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
  if (base.empty() || base == "." || base == "..") return "__unnamed__";
  return base;
}

oci::Digest parse_add_checksum(std::string_view text) {
  auto d = oci::Digest::try_parse(text);
  if (!d) {
    throw Error(describe("parse --checksum", text,
                         "expected sha256:<64 hex digits> or sha512:<128 hex digits>"));
  }
  return *d;
}

TempDir make_download_dir(const oci::Store& store) { return TempDir(store.tmp_dir(), "add-url-"); }

UrlFile download_url(const std::string& url, const TempDir& dir, std::size_t index,
                     const std::optional<oci::Digest>& expected) {
  UrlFile f;
  f.name = "download-" + std::to_string(index);
  auto file = dir.path() / f.name;
  UniqueFd fd(::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) throw sys_error("create", file.string());
  registry::HttpClient client(registry::HttpSettings{});
  auto algorithm = expected ? expected->algorithm() : oci::DigestAlgorithm::kSha256;
  registry::Download got = registry::download_to_fd(client, url, fd.get(), algorithm,
                                                    kMaxUrlDownload, runtime::keep_going);
  if (expected && got.digest != *expected) {
    throw Error(
        describe("download", url,
                 "checksum mismatch: expected " + expected->str() + ", got " + got.digest.str()));
  }
  f.digest = got.digest;
  f.size = got.size;
  if (auto lm = got.response.header("Last-Modified")) {
    if (auto t = registry::parse_http_date(*lm)) f.mtime = *t;
  }
  return f;
}

}  // namespace mkimg::builder
