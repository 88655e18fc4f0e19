// push_image: blobs (HEAD, mount, upload; a few at a time), then manifests, then the index.
#include "registry/push.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <mutex>

#include "common/error.h"
#include "common/fd.h"
#include "oci/image.h"
#include "oci/media_types.h"
#include "oci/reference.h"
#include "oci/store.h"
#include "registry/client.h"
#include "registry/parallel.h"

namespace mkimg::registry {
namespace {

using Progress = std::function<void(std::string_view)>;

/// The repository to mount blobs from: the source's, when it names the same registry.
std::optional<std::string> mount_source(const std::string& source, const oci::Reference& dest) {
  auto ref = oci::Reference::try_parse(source);
  if (!ref || ref->domain != dest.domain || ref->path == dest.path) return std::nullopt;
  return ref->path;
}

std::string manifest_type(const oci::Descriptor& d, const std::string& bytes) {
  if (!d.media_type.empty()) return d.media_type;
  oci::ManifestDocument doc = oci::parse_manifest_document(bytes, "");
  return std::holds_alternative<oci::Index>(doc) ? std::string(oci::media_type::kOciIndex)
                                                 : std::string(oci::media_type::kOciManifest);
}

/// Reads blob bytes at an offset from the store's file.
std::size_t pread_all(int fd, std::int64_t offset, char* buf, std::size_t n) {
  for (;;) {
    ssize_t got = ::pread(fd, buf, n, offset);
    if (got >= 0) return static_cast<std::size_t>(got);
    if (errno != EINTR) throw sys_error("read", "blob");
  }
}

void push_blob(RegistryClient& client, const oci::Store& store, const oci::Descriptor& d,
               const std::optional<std::string>& from, const PushOptions& options,
               const Progress& progress) {
  if (client.has_blob(d.digest)) {
    progress("exists " + d.digest.str());
    return;
  }
  // push() left only origins on the destination's registry, as repository paths.
  if (auto origin = options.origins.find(d.digest.str());
      origin != options.origins.end() && client.mount_blob(d.digest, origin->second)) {
    progress("mounted " + d.digest.str() + " from " + origin->second);
    return;
  }
  if (from && client.mount_blob(d.digest, *from)) {
    progress("mounted " + d.digest.str() + " from " + *from);
    return;
  }
  if (!store.has_blob(d.digest)) {
    if (!options.fetch_missing) {
      throw Error(describe("push layer", d.digest.str(), "not in the store"));
    }
    options.fetch_missing(d);
  }
  for (int attempt = 0;; ++attempt) {
    UniqueFd fd = store.open_blob(d.digest);
    try {
      client.upload_blob(d.digest, d.size, options.chunk_size,
                         [&](std::int64_t offset, char* buf, std::size_t n) {
                           return pread_all(fd.get(), offset, buf, n);
                         });
      break;
    } catch (const TransportError& e) {
      if (e.kind() != TransportError::Kind::kRetryable || attempt >= options.registry.retries) {
        throw;
      }
      spdlog::debug("blob {}: upload retry {}: {}", d.digest.str(), attempt + 1, e.what());
    }
  }
  spdlog::debug("blob {}: uploaded {} bytes", d.digest.str(), d.size);
  progress("pushed " + d.digest.str() + " (" + std::to_string(d.size) + " bytes)");
}

void push_blobs(const RegistryClient& client, const oci::Store& store, const oci::Manifest& m,
                const std::optional<std::string>& from, const PushOptions& options,
                const Progress& progress) {
  std::vector<oci::Descriptor> blobs = {m.config};
  for (const auto& layer : m.layers) {
    if (!layer.urls.empty()) continue;  // foreign layers stay where they are
    if (!store.has_blob(layer.digest) && !options.fetch_missing &&
        !options.origins.count(layer.digest.str())) {
      throw Error(describe("push layer", layer.digest.str(), "not in the store"));
    }
    blobs.push_back(layer);
  }
  run_parallel(options.registry.parallel_blobs, blobs.size(), [&] {
    auto mine = std::make_shared<RegistryClient>(client.clone());
    return [&, mine](std::size_t i) { push_blob(*mine, store, blobs[i], from, options, progress); };
  });
}

/// Pushes one image manifest and its blobs; `reference` is a tag or the manifest's digest.
void push_manifest(RegistryClient& client, const oci::Store& store, const oci::Descriptor& d,
                   const std::string& reference, const std::optional<std::string>& from,
                   const PushOptions& options, const Progress& progress) {
  std::string bytes = store.read_blob(d.digest);
  oci::ManifestDocument doc = oci::parse_manifest_document(bytes, d.media_type);
  if (!std::holds_alternative<oci::Manifest>(doc)) {
    throw Error(describe("push manifest", d.digest.str(), "an index inside an index"));
  }
  push_blobs(client, store, std::get<oci::Manifest>(doc), from, options, progress);
  client.put_manifest(reference, bytes, manifest_type(d, bytes));
  progress("pushed manifest " + d.digest.str());
}

/// `options` with only the origins on `dest`'s registry, as repository paths there.
PushOptions with_local_origins(const PushOptions& options, const oci::Reference& dest) {
  PushOptions out = options;
  out.origins.clear();
  for (const auto& [digest, origin] : options.origins) {
    auto ref = oci::Reference::try_parse(origin);
    if (ref && ref->domain == dest.domain && ref->path != dest.path) {
      out.origins.emplace(digest, ref->path);
    }
  }
  return out;
}

/// The repositories blobs are mounted from: pull scopes of the token.
std::vector<std::string> mount_repositories(const std::optional<std::string>& from,
                                            const PushOptions& options) {
  std::vector<std::string> out;
  if (from) out.push_back(*from);
  for (const auto& [digest, path] : options.origins) {
    if (std::find(out.begin(), out.end(), path) == out.end()) out.push_back(path);
  }
  return out;
}

oci::Descriptor push(oci::Store& store, const oci::Descriptor& top,
                     const std::optional<std::string>& from, const oci::Reference& dest,
                     const PushOptions& given) {
  const PushOptions options = with_local_origins(given, dest);
  std::mutex mutex;
  Progress progress = [&](std::string_view line) {
    std::lock_guard lock(mutex);
    if (options.progress) options.progress(line);
  };
  if (dest.digest && *dest.digest != top.digest) {
    throw Error("the image has digest " + top.digest.str() + ", not " + dest.digest->str());
  }
  std::string reference = dest.tag ? *dest.tag : top.digest.str();
  RegistryClient client = RegistryClient::connect(
      dest.domain, dest.path, Access::kPush, options.registry, mount_repositories(from, options));
  std::string bytes = store.read_blob(top.digest);
  std::string type = manifest_type(top, bytes);
  oci::ManifestDocument doc = oci::parse_manifest_document(bytes, type);
  if (const oci::Index* index = std::get_if<oci::Index>(&doc)) {
    for (const oci::Descriptor& child : index->manifests) {
      if (!oci::media_type::is_manifest(child.media_type) || !store.has_blob(child.digest)) {
        throw Error(describe("push manifest", child.digest.str(), "not in the store"));
      }
      push_manifest(client, store, child, child.digest.str(), from, options, progress);
    }
    client.put_manifest(reference, bytes, type);
  } else {
    oci::Descriptor d = top;
    d.media_type = type;
    push_manifest(client, store, d, reference, from, options, progress);
  }
  progress("pushed " + dest.str() + " " + top.digest.str());
  return oci::Descriptor{type, top.digest, static_cast<std::int64_t>(bytes.size())};
}

}  // namespace

oci::Descriptor push_image(oci::Store& store, const std::string& source, const oci::Reference& dest,
                           const PushOptions& options) {
  try {
    auto top = store.resolve(source);
    if (!top) throw Error(describe("find image", source, "not in the store"));
    return push(store, *top, mount_source(source, dest), dest, options);
  } catch (const std::exception& e) {
    throw with_context("push `" + dest.str() + "`", e);
  }
}

oci::Descriptor push_image(oci::Store& store, const oci::Descriptor& top,
                           const oci::Reference& dest, const PushOptions& options) {
  try {
    return push(store, top, std::nullopt, dest, options);
  } catch (const std::exception& e) {
    throw with_context("push `" + dest.str() + "`", e);
  }
}

}  // namespace mkimg::registry
