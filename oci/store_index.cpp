// Store tags: index.json read and replaced under <root>/index.lock; resolve() by tag, digest
// or image id.
#include <fcntl.h>
#include <sys/file.h>

#include <algorithm>
#include <functional>
#include <set>

#include "common/error.h"
#include "common/in_root.h"
#include "oci/digest.h"
#include "oci/file_io.h"
#include "oci/media_types.h"
#include "oci/store.h"

namespace mkimg::oci {
namespace fs = std::filesystem;

namespace {

/// Holds <root>/index.lock exclusively for one read-modify-write of index.json.
class IndexLock {
 public:
  explicit IndexLock(const fs::path& root) : path_(root / "index.lock") {
    fd_ = UniqueFd(::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!fd_) throw sys_error("open", path_.string());
    while (::flock(fd_.get(), LOCK_EX) != 0) {
      if (errno != EINTR) throw sys_error("lock", path_.string());
    }
  }

 private:
  fs::path path_;
  UniqueFd fd_;  // closing it releases the lock
};

std::string read_index_bytes(const Store& store) {
  fs::path path = store.layout_dir() / "index.json";
  try {
    return detail::read_capped(path, kMaxDocumentSize);
  } catch (const Error& e) {
    throw with_context("read `" + path.string() + "`", e);
  }
}

/// index.json's `bytes` parsed; an error names the file.
Index parse_index_bytes(const Store& store, const std::string& bytes) {
  try {
    return parse_index(bytes);
  } catch (const Error& e) {
    throw with_context("read `" + (store.layout_dir() / "index.json").string() + "`", e);
  }
}

Index read_index(const Store& store) { return parse_index_bytes(store, read_index_bytes(store)); }

/// Makes every rename into blobs/ so far durable, this process's and any other's (one fsync of
/// each blobs/<alg>/ in use), so the index about to be written never names a blob a power cut
/// could take back. sha512 blobs are rare: their directory is flushed only when it holds any.
void sync_blob_dirs(const Store& store) {
  for (const char* algorithm : kDigestAlgorithmNames) {
    fs::path dir = store.layout_dir() / "blobs" / algorithm;
    std::error_code ec;
    if (algorithm != std::string_view("sha256") && (fs::is_empty(dir, ec) || ec)) continue;
    detail::fsync_dir(dir);
  }
}

/// One read-modify-write of index.json under the lock. When the change leaves the canonical
/// bytes as they are (tagging an image with the tag it already has), nothing is written: the
/// file keeps its inode and mtime and no fsync is paid.
void update_index(const Store& store, const std::function<void(Index&)>& change) {
  IndexLock lock(store.root());
  std::string before = read_index_bytes(store);
  Index index = parse_index_bytes(store, before);
  change(index);
  if (index.media_type.empty()) index.media_type = std::string(media_type::kOciIndex);
  std::string after = to_json(index);
  if (after == before) return;
  sync_blob_dirs(store);
  write_file_atomic(store.layout_dir() / "index.json", after, Flush::kWithDirectory,
                    store.tmp_dir());
}

std::optional<Reference> entry_reference(const Descriptor& d) {
  auto it = d.annotations.find(kRefNameAnnotation);
  if (it == d.annotations.end()) return std::nullopt;
  return Reference::try_parse(it->second);
}

bool is_tag_of(const Descriptor& d, const Reference& ref) {
  auto r = entry_reference(d);
  return r && *r == ref;
}

Descriptor plain(const Descriptor& d) {
  return Descriptor{.media_type = d.media_type, .digest = d.digest, .size = d.size};
}

bool is_hex_prefix(std::string_view s) {
  return s.size() >= 4 && s.size() <= 64 && is_lower_hex(s);
}

}  // namespace

void Store::tag(const Reference& reference, const Descriptor& manifest) const {
  if (!reference.tag || reference.digest) {
    throw Error(describe("tag", reference.familiar(), "a tag needs name:tag without a digest"));
  }
  Descriptor entry = plain(manifest);
  entry.annotations[kRefNameAnnotation] = reference.familiar();
  update_index(*this, [&](Index& index) {
    bool already =
        std::find(index.manifests.begin(), index.manifests.end(), entry) != index.manifests.end();
    std::erase_if(index.manifests, [&](const Descriptor& d) {
      return (is_tag_of(d, reference) && !(already && d == entry)) ||
             (d.digest == manifest.digest && !d.annotations.contains(kRefNameAnnotation));
    });
    // A tag that already names this manifest keeps its place (the index stays as it was).
    if (!already) index.manifests.push_back(entry);
  });
}

void Store::add_untagged(const Descriptor& manifest) const {
  update_index(*this, [&](Index& index) {
    for (const auto& d : index.manifests) {
      if (d.digest == manifest.digest) return;
    }
    index.manifests.push_back(plain(manifest));
  });
}

bool Store::untag(const Reference& reference) const {
  bool removed = false;
  update_index(*this, [&](Index& index) {
    removed = std::erase_if(index.manifests,
                            [&](const Descriptor& d) { return is_tag_of(d, reference); }) > 0;
  });
  return removed;
}

std::size_t Store::remove_manifest(const Digest& manifest) const {
  std::size_t removed = 0;
  update_index(*this, [&](Index& index) {
    removed =
        std::erase_if(index.manifests, [&](const Descriptor& d) { return d.digest == manifest; });
  });
  return removed;
}

std::vector<TaggedImage> Store::list() const {
  std::vector<TaggedImage> out;
  for (const auto& d : read_index(*this).manifests) {
    out.push_back(TaggedImage{.reference = entry_reference(d), .manifest = plain(d)});
  }
  return out;
}

namespace {

std::optional<Descriptor> find_by_id_prefix(const Store& store, std::string_view prefix) {
  std::optional<Descriptor> found;
  std::set<Digest> ids;
  for (const auto& entry : store.list()) {
    try {
      Image image = load_image(store, entry.manifest);
      if (!image.manifest.config.digest.encoded().starts_with(prefix)) continue;
      ids.insert(image.manifest.config.digest);
      if (!found) found = entry.manifest;
    } catch (const Error&) {
      continue;  // a broken entry never matches
    }
  }
  if (ids.size() > 1) {
    throw Error(describe("resolve image", prefix, "the id prefix matches several images"));
  }
  return found;
}

/// The manifest `digest` when an index of `entries` lists it and the store has it (one platform
/// of a multi-platform image, by its own digest).
std::optional<Descriptor> find_in_indexes(const Store& store,
                                          const std::vector<TaggedImage>& entries,
                                          const Digest& digest) {
  for (const auto& e : entries) {
    if (!media_type::is_index(e.manifest.media_type) || !store.has_blob(e.manifest.digest)) {
      continue;
    }
    try {
      for (const auto& m : parse_index(store.read_blob(e.manifest.digest)).manifests) {
        if (m.digest == digest && store.has_blob(m.digest)) return plain(m);
      }
    } catch (const Error&) {
      continue;  // a broken entry never matches
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<Descriptor> Store::resolve(std::string_view name) const {
  auto entries = list();
  if (auto digest = Digest::try_parse(name)) {
    for (const auto& e : entries) {
      if (e.manifest.digest == *digest) return e.manifest;
    }
    if (auto child = find_in_indexes(*this, entries, *digest)) return child;
    return find_by_id_prefix(*this, digest->encoded());
  }
  if (auto ref = Reference::try_parse(name)) {
    for (const auto& e : entries) {
      if (ref->digest && e.manifest.digest == *ref->digest) return e.manifest;
      if (!ref->digest && e.reference && *e.reference == *ref) return e.manifest;
    }
    if (ref->digest) {
      if (auto child = find_in_indexes(*this, entries, *ref->digest)) return child;
    }
  }
  std::string_view id = name;
  if (id.starts_with("sha256:")) id.remove_prefix(7);
  if (is_hex_prefix(id)) return find_by_id_prefix(*this, id);
  return std::nullopt;
}

}  // namespace mkimg::oci
