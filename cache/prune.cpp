#include "cache/prune.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <ctime>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "cache/cache_index.h"
#include "cache/cache_location.h"
#include "cache/shared_cache.h"
#include "common/error.h"
#include "oci/digest.h"
#include "oci/image.h"
#include "oci/reference.h"
#include "oci/store.h"
#include "registry/client.h"

namespace mkimg::cache {
namespace {

namespace fs = std::filesystem;

/// How often a use is written down: a no-op rebuild within the hour writes nothing.
constexpr std::int64_t kMarkInterval = 3600;

std::int64_t now_seconds() { return static_cast<std::int64_t>(std::time(nullptr)); }

// --- the store's cache ----------------------------------------------------------------------

/// A RUN --mount=type=cache directory (<root>/cache/mounts/<hex>[-N]).
struct Mount {
  std::string name;
  fs::path dir;
  std::int64_t bytes = 0;
  std::int64_t last_used = 0;
};

/// The sizes of the regular files under `dir`, each inode once; links are not followed.
std::int64_t tree_bytes(const fs::path& dir) {
  std::int64_t total = 0;
  std::set<std::pair<dev_t, ino_t>> seen;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec),
       end;
       !ec && it != end; it.increment(ec)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (seen.insert({st.st_dev, st.st_ino}).second) total += st.st_size;
  }
  return total;
}

std::vector<Mount> list_mounts(const fs::path& mounts_dir) {
  std::vector<Mount> out;
  struct stat dir {};
  if (::lstat(mounts_dir.c_str(), &dir) != 0) return out;  // no cache mount yet
  if (!S_ISDIR(dir.st_mode)) {  // a symlink would have prune remove what it points at
    throw Error(describe("prune cache mounts", mounts_dir.string(), "not a directory"));
  }
  std::error_code ec;
  for (const auto& f : fs::directory_iterator(mounts_dir, ec)) {
    struct stat st {};
    if (::lstat(f.path().c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;  // .lock files
    out.push_back({f.path().filename().string(), f.path(), tree_bytes(f.path()), st.st_mtime});
  }
  std::sort(out.begin(), out.end(), [](const Mount& a, const Mount& b) { return a.name < b.name; });
  return out;
}

/// What a local prune removes, decided before anything is.
struct Plan {
  std::vector<std::string> keys;  ///< entries
  std::vector<const Mount*> mounts;
  std::vector<oci::Digest> blobs;  ///< layers no remaining entry and no image uses
  std::vector<PrunedItem> items;   ///< in the order they were chosen
  std::int64_t held = 0;           ///< what stays
};

/// Chooses by age, then by least recent use until the rest fits `keep_storage`. With no limit
/// everything goes. `reached`: the blobs images of index.json use (not the cache's to count).
Plan decide(const oci::Store& store, const std::vector<StoredEntry>& entries,
            const std::vector<Mount>& mounts, const std::unordered_set<oci::Digest>& reached,
            const PruneLimits& limits) {
  // The cache's own layer blobs: referred to by entries, present, reached by no image.
  std::unordered_map<std::string, std::int64_t> blob_bytes;
  std::unordered_map<std::string, int> users;
  for (const auto& e : entries) {
    if (e.layer_digest.empty()) continue;
    auto digest = oci::Digest::try_parse(e.layer_digest);
    if (!digest || reached.contains(*digest)) continue;
    if (!blob_bytes.contains(e.layer_digest)) {
      blob_bytes[e.layer_digest] = store.blob_size(*digest).value_or(0);
    }
    ++users[e.layer_digest];
  }

  struct Candidate {
    const StoredEntry* entry = nullptr;
    const Mount* mount = nullptr;
    std::int64_t last_used = 0;
    std::string name;
  };
  std::vector<Candidate> all;
  for (const auto& e : entries) all.push_back({&e, nullptr, e.last_used, e.key});
  for (const auto& m : mounts) all.push_back({nullptr, &m, m.last_used, m.name});
  std::sort(all.begin(), all.end(), [](const Candidate& a, const Candidate& b) {
    return a.last_used != b.last_used ? a.last_used < b.last_used : a.name < b.name;
  });

  Plan plan;
  for (const auto& [digest, bytes] : blob_bytes) plan.held += bytes;
  for (const auto& c : all) plan.held += c.entry ? c.entry->file_bytes : c.mount->bytes;

  std::vector<std::string> freed;  // blobs whose last user went
  auto remove = [&](const Candidate& c) {
    PrunedItem item{c.entry ? PrunedItem::Kind::kEntry : PrunedItem::Kind::kMount, c.name,
                    c.entry ? c.entry->file_bytes : c.mount->bytes, c.last_used};
    if (c.entry) {
      plan.keys.push_back(c.entry->key);
      if (auto u = users.find(c.entry->layer_digest); u != users.end() && --u->second == 0) {
        item.bytes += blob_bytes[u->first];
        plan.blobs.push_back(oci::Digest::parse(u->first));
      }
    } else {
      plan.mounts.push_back(c.mount);
    }
    plan.held -= item.bytes;
    plan.items.push_back(std::move(item));
  };

  bool no_limit = !limits.older_than && !limits.keep_storage;
  std::int64_t cutoff = limits.older_than ? now_seconds() - limits.older_than->count() : 0;
  std::vector<const Candidate*> left;
  for (const auto& c : all) {
    if (no_limit || (limits.older_than && c.last_used < cutoff)) {
      remove(c);
    } else {
      left.push_back(&c);
    }
  }
  if (limits.keep_storage) {
    for (const Candidate* c : left) {  // least recently used first
      if (plan.held <= *limits.keep_storage) break;
      remove(*c);
    }
  }
  return plan;
}

/// Removes a cache mount: renamed into tmp/ first, so a killed prune never leaves half a
/// cache under its name (tmp/ is emptied by the next writer that has the store alone).
void remove_mount(const oci::Store& store, const Mount& m) {
  fs::path aside = store.temp_path("cache-mount");
  std::error_code ec;
  if (::rename(m.dir.c_str(), aside.c_str()) != 0)
    throw sys_error("remove cache mount", m.dir.string());
  fs::remove_all(aside, ec);
  if (ec) {  // left in tmp/, which the next command to have the store alone empties
    spdlog::warn("cache mount {} not wholly removed: {}", m.name, ec.message());
  }
  fs::remove(m.dir.string() + ".lock", ec);
}

LocalPruneReport report_of(const Plan& plan) {
  LocalPruneReport report;
  report.removed = plan.items;
  report.entries = plan.keys.size();
  report.mounts = plan.mounts.size();
  report.blobs = plan.blobs.size();
  for (const auto& item : plan.items) report.bytes += item.bytes;
  report.held = plan.held;
  return report;
}

// --- a registry cache -----------------------------------------------------------------------

/// The artifacts of a registry cache: step entries and cache mounts.
enum class ArtifactKind { kNone, kEntry, kMount };

constexpr std::string_view kEntryMark = "sha256-", kMountMark = "mount-";

bool is_hex64(std::string_view s) { return s.size() == 64 && oci::is_lower_hex(s); }

/// What `tag` is in the cache whose tags start with `prefix` ("" or "<ref's tag>-"): one of
/// its key tags ("sha256-<hex>", key_tag), one of its mount tags ("mount-<hex>", mount_tag),
/// or neither.
ArtifactKind kind_of_tag(const std::string& prefix, std::string_view tag) {
  if (tag.size() < 64 || !is_hex64(tag.substr(tag.size() - 64))) return ArtifactKind::kNone;
  std::string_view head = tag.substr(0, tag.size() - 64);
  if (!head.starts_with(prefix)) return ArtifactKind::kNone;
  head.remove_prefix(prefix.size());
  if (head == kEntryMark) return ArtifactKind::kEntry;
  if (head == kMountMark) return ArtifactKind::kMount;
  return ArtifactKind::kNone;
}

/// "sha256-<hex>" or "mount-<hex>" when `tag` ends so (a tag of any cache), else "".
std::string artifact_suffix(std::string_view tag) {
  for (std::string_view mark : {kEntryMark, kMountMark}) {
    std::size_t size = mark.size() + 64;
    if (tag.size() >= size && tag.substr(tag.size() - size, mark.size()) == mark &&
        is_hex64(tag.substr(tag.size() - 64))) {
      return std::string(tag.substr(tag.size() - size));
    }
  }
  return "";
}

/// The `created` of an artifact's config document (an entry or a cache mount), as written.
std::string created_of(registry::RegistryClient& client, const oci::Manifest& m,
                       ArtifactKind kind) {
  std::string doc = client.get_small_blob(m.config.digest, kMaxEntryDocument);
  if (kind == ArtifactKind::kEntry) return parse_entry_document(doc).created;
  try {
    return nlohmann::json::parse(doc).at("created").get<std::string>();
  } catch (const std::exception& e) {
    throw Error(describe("read cache mount", m.config.digest.str(), e.what()));
  }
}

}  // namespace

void mark_used(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || now_seconds() - st.st_mtime <= kMarkInterval) return;
  ::utimensat(AT_FDCWD, path.c_str(), nullptr, 0);
}

LocalPruneReport prune_local(const oci::Store& store, const LocalPruneOptions& options) {
  CacheIndex index(store.cache_dir());
  fs::path mounts_dir = store.cache_dir() / "mounts";
  if (options.dry_run) {
    auto entries = index.stored();
    auto mounts = list_mounts(mounts_dir);
    return report_of(decide(store, entries, mounts, store.reached(), options.limits));
  }
  LocalPruneReport report;
  std::vector<StoredEntry> entries;
  std::vector<Mount> mounts;
  oci::GcOptions gc;
  gc.on_wait = options.on_wait;
  gc.choose = [&](const std::unordered_set<oci::Digest>& reached) {
    // Under the exclusive lock: no build is running, none can find what goes.
    entries = index.stored();
    mounts = list_mounts(mounts_dir);
    Plan plan = decide(store, entries, mounts, reached, options.limits);
    index.remove(plan.keys);
    for (const Mount* m : plan.mounts) remove_mount(store, *m);
    report = report_of(plan);
    return plan.blobs;
  };
  store.gc(gc);
  return report;
}

RegistryPruneReport prune_registry(const RegistryPruneOptions& options) {
  auto ref = oci::Reference::try_parse(options.ref);
  if (!ref || ref->digest) {
    throw Error(describe("prune cache", options.ref, "not a repository REPO[:TAG]"));
  }
  CacheLocation loc{.type = LocationType::kRegistry, .ref = options.ref, .text = options.ref};
  std::string prefix = key_tag(loc, "sha256:" + std::string(64, '0'));
  prefix.resize(prefix.size() - kEntryMark.size() - 64);  // "" or "<tag>-"
  RegistryPruneReport report;
  report.repository = ref->domain + "/" + ref->path;
  auto client = registry::RegistryClient::connect(ref->domain, ref->path, registry::Access::kDelete,
                                                  options.registry);
  std::vector<std::string> tags = client.list_tags();
  std::sort(tags.begin(), tags.end());
  std::map<std::string, std::vector<std::string>> by_suffix;  // every cache's artifact tags
  for (const auto& tag : tags) {
    if (auto suffix = artifact_suffix(tag); !suffix.empty()) by_suffix[suffix].push_back(tag);
  }

  std::optional<std::int64_t> cutoff;
  if (options.limits.older_than) cutoff = now_seconds() - options.limits.older_than->count();
  for (const auto& tag : tags) {
    ArtifactKind kind = kind_of_tag(prefix, tag);
    if (kind == ArtifactKind::kNone) continue;  // not a tag of this cache: not ours to look at
    auto manifest = client.find_manifest(tag);
    if (!manifest) continue;  // gone since the listing
    RegistryItem item{.tag = tag, .digest = manifest->digest.str()};
    item.mount = kind == ArtifactKind::kMount;
    std::optional<oci::Manifest> m;
    try {
      m = oci::parse_manifest(manifest->bytes);
    } catch (const std::exception&) {
      item.action = RegistryItem::Action::kNotEntry;
      item.note = "not an image manifest (" + manifest->media_type + ")";
    }
    std::string_view wanted = item.mount ? kMountMediaType : kEntryMediaType;
    if (m && m->config.media_type != wanted) {
      item.action = RegistryItem::Action::kNotEntry;
      item.note = "config media type `" + m->config.media_type + "`";
    } else if (m) {
      std::optional<std::int64_t> created;
      try {
        item.created = created_of(client, *m, kind);
        created = oci::parse_rfc3339(item.created);
      } catch (const Error& e) {
        item.note = std::string("not read: ") + e.what();
      }
      bool old = !cutoff || (created && *created < *cutoff);
      item.action = old ? RegistryItem::Action::kDeleted : RegistryItem::Action::kKept;
      if (!old && !created && item.note.empty()) item.note = "no creation time";
    }
    if (item.action == RegistryItem::Action::kDeleted) {
      // A registry deletes a manifest with every tag naming it: the same artifact in another
      // cache of the repository goes too, and is named.
      for (const auto& other : by_suffix[artifact_suffix(tag)]) {
        if (other == tag) continue;
        auto theirs = client.find_manifest(other);
        if (theirs && theirs->digest == manifest->digest) item.also.push_back(other);
      }
    }
    report.items.push_back(std::move(item));
  }

  if (options.dry_run) return report;
  std::set<std::string> deleted;
  for (auto& item : report.items) {
    if (item.action != RegistryItem::Action::kDeleted || deleted.contains(item.digest)) continue;
    if (report.deletes_refused) {
      item.action = RegistryItem::Action::kNotDeleted;
      continue;
    }
    if (client.delete_manifest(oci::Digest::parse(item.digest))) {
      deleted.insert(item.digest);
    } else {
      report.deletes_refused = true;
      item.action = RegistryItem::Action::kNotDeleted;
    }
  }
  return report;
}

}  // namespace mkimg::cache
