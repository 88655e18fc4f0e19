#include "cache/shared_cache.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>

#include <atomic>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "common/copy_data.h"
#include "common/error.h"
#include "common/fd.h"
#include "common/in_root.h"
#include "oci/image.h"
#include "oci/media_types.h"
#include "oci/reference.h"
#include "oci/store.h"
#include "registry/client.h"
#include "registry/download.h"
#include "registry/parallel.h"

namespace mkimg::cache {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

/// Where the artifacts of one location are: a registry repository or a layout directory.
class Backend {
 public:
  virtual ~Backend() = default;
  /// The manifest tagged `tag`, or nullopt.
  virtual std::optional<std::string> manifest(const std::string& tag) = 0;
  /// A small blob, its digest checked.
  virtual std::string small_blob(const oci::Descriptor& d) = 0;
  /// A blob into the store, digest and size checked.
  virtual void fetch_blob(const oci::Descriptor& d, const oci::Store& store) = 0;
  virtual bool has_blob(const oci::Digest& d) = 0;
  /// A blob of the store into the location.
  virtual void send_blob(const oci::Descriptor& d, const oci::Store& store) = 0;
  virtual void send_small_blob(const oci::Descriptor& d, std::string_view bytes) = 0;
  /// A blob that is a file outside the store into the location.
  virtual void send_file(const oci::Descriptor& d, const fs::path& file) = 0;
  /// Tags a manifest; an existing tag is kept unless `replace`.
  virtual void tag_manifest(const std::string& tag, std::string_view bytes, bool replace) = 0;
  /// Written when an export ends (a layout's index.json).
  virtual void finish() {}
  /// A backend for another thread, or null when this one may be used from several at once.
  virtual std::unique_ptr<Backend> clone() const { return nullptr; }
};

class RegistryBackend : public Backend {
 public:
  RegistryBackend(const CacheLocation& loc, const registry::RegistryOptions& options,
                  registry::Access access)
      : reference_(oci::Reference::parse(loc.ref)),
        client_(registry::RegistryClient::connect(reference_.domain, reference_.path, access,
                                                  options)) {}
  RegistryBackend(const RegistryBackend& other)
      : reference_(other.reference_), client_(other.client_.clone()) {}
  std::unique_ptr<Backend> clone() const override {
    return std::make_unique<RegistryBackend>(*this);
  }
  std::optional<std::string> manifest(const std::string& tag) override {
    auto m = client_.find_manifest(tag);
    if (!m) return std::nullopt;
    return std::move(m->bytes);
  }
  std::string small_blob(const oci::Descriptor& d) override {
    return client_.get_small_blob(d.digest, kMaxEntryDocument);
  }
  void fetch_blob(const oci::Descriptor& d, const oci::Store& store) override {
    registry::download_blob(client_, store, d);
  }
  bool has_blob(const oci::Digest& d) override { return client_.has_blob(d); }
  void send_blob(const oci::Descriptor& d, const oci::Store& store) override {
    UniqueFd fd = store.open_blob(d.digest);
    client_.upload_blob(d.digest, d.size, 64 << 20,
                        [&](std::int64_t offset, char* buf, std::size_t n) {
                          for (;;) {
                            ssize_t got = ::pread(fd.get(), buf, n, offset);
                            if (got >= 0) return static_cast<std::size_t>(got);
                            if (errno != EINTR) throw sys_error("read blob", d.digest.str());
                          }
                        });
  }
  void send_file(const oci::Descriptor& d, const fs::path& file) override {
    UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw sys_error("open", file.string());
    client_.upload_blob(d.digest, d.size, 64 << 20,
                        [&](std::int64_t offset, char* buf, std::size_t n) {
                          for (;;) {
                            ssize_t got = ::pread(fd.get(), buf, n, offset);
                            if (got >= 0) return static_cast<std::size_t>(got);
                            if (errno != EINTR) throw sys_error("read", file.string());
                          }
                        });
  }
  void send_small_blob(const oci::Descriptor& d, std::string_view bytes) override {
    client_.upload_blob(d.digest, d.size, 64 << 20,
                        [&](std::int64_t offset, char* buf, std::size_t n) {
                          std::size_t at = static_cast<std::size_t>(offset);
                          std::size_t k = std::min(n, bytes.size() - at);
                          std::copy_n(bytes.data() + at, k, buf);
                          return k;
                        });
  }
  void tag_manifest(const std::string& tag, std::string_view bytes, bool) override {
    client_.put_manifest(tag, bytes, oci::media_type::kOciManifest);
  }

 private:
  oci::Reference reference_;
  registry::RegistryClient client_;
};

/// An OCI image layout: blobs/<alg>/<hex>, index.json naming each artifact by its tag
/// (org.opencontainers.image.ref.name). Writers take <dir>/.mkimg-cache.lock to merge
/// index.json.
class LocalBackend : public Backend {
 public:
  LocalBackend(const CacheLocation& loc, bool writing) : dir_(loc.dir) {
    if (writing) {
      fs::create_directories(dir_);
    } else if (!fs::is_directory(dir_)) {
      throw Error(describe("read cache", dir_.string(), "no such directory"));
    }
    root_ = open_root(dir_);
    read_index();
  }
  std::optional<std::string> manifest(const std::string& tag) override {
    auto it = tags_.find(tag);
    if (it == tags_.end()) return std::nullopt;
    return small_blob(it->second);
  }
  // Reads go through the directory's fd, resolved inside it: a symlink in a restored cache
  // directory cannot make mkimg read a file elsewhere.
  std::string small_blob(const oci::Descriptor& d) override {
    auto bytes = read_file_in_root(root_.get(), blob_name(d.digest), kMaxEntryDocument);
    if (!bytes) throw Error(describe("read cache blob", blob_name(d.digest), "missing"));
    if (oci::digest_of(d.digest.algorithm(), *bytes) != d.digest) {
      throw Error(describe("read cache blob", blob_name(d.digest),
                           "the content does not match its digest"));
    }
    return std::move(*bytes);
  }
  void fetch_blob(const oci::Descriptor& d, const oci::Store& store) override {
    if (store.has_blob(d.digest)) return;
    UniqueFd in = open_in_root(root_.get(), blob_name(d.digest), O_RDONLY | O_NOFOLLOW);
    if (!in) throw sys_error("open cache blob", blob_name(d.digest));
    fs::path tmp = store.temp_path("cache-blob-");
    try {
      UniqueFd out(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
      if (!out) throw sys_error("create", tmp.string());
      copy_fd_data(in.get(), out.get(), tmp.string());
      out = UniqueFd();
      if (store.commit_file(tmp, d.digest, oci::Verification::kRehash) != d.size) {
        throw Error(describe("read cache blob", d.digest.str(), "the size does not match"));
      }
    } catch (...) {
      std::error_code ec;
      fs::remove(tmp, ec);
      throw;
    }
  }
  bool has_blob(const oci::Digest& d) override {
    std::error_code ec;
    return fs::exists(blob_path(d), ec);
  }
  void send_blob(const oci::Descriptor& d, const oci::Store& store) override {
    store.export_blob(d.digest, dir_);
  }
  void send_small_blob(const oci::Descriptor& d, std::string_view bytes) override {
    fs::create_directories(blob_path(d.digest).parent_path());
    write_file_atomic(blob_path(d.digest), std::string(bytes));
  }
  void send_file(const oci::Descriptor& d, const fs::path& file) override {
    fs::path to = blob_path(d.digest);
    fs::create_directories(to.parent_path());
    UniqueFd in(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!in) throw sys_error("open", file.string());
    AtomicFile out(to);
    copy_fd_data(in.get(), out.fd(), out.temp_path().string());
    // A power cut may tear it: a reader checks every blob against its digest (a miss then).
    out.commit(Flush::kNo);
  }
  void tag_manifest(const std::string& tag, std::string_view bytes, bool replace) override {
    if (replace) replaced_.insert(tag);
    oci::Descriptor d{std::string(oci::media_type::kOciManifest),
                      oci::sha256_of(bytes),
                      static_cast<std::int64_t>(bytes.size()),
                      {},
                      {},
                      {},
                      {}};
    send_small_blob(d, bytes);
    added_[tag] = d;
  }
  void finish() override {
    if (added_.empty()) return;
    UniqueFd lock(::open((dir_ / ".mkimg-cache.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (!lock) throw sys_error("open", (dir_ / ".mkimg-cache.lock").string());
    while (::flock(lock.get(), LOCK_EX) != 0) {
      if (errno != EINTR) throw sys_error("lock", (dir_ / ".mkimg-cache.lock").string());
    }
    read_index();  // another writer may have added tags since
    for (auto& [tag, d] : added_) {
      if (replaced_.count(tag)) {
        tags_.insert_or_assign(tag, d);
      } else {
        tags_.emplace(tag, d);  // an existing tag is kept
      }
    }
    oci::Index index;
    index.media_type = std::string(oci::media_type::kOciIndex);
    for (auto [tag, d] : tags_) {
      d.annotations[oci::kRefNameAnnotation] = tag;
      index.manifests.push_back(d);
    }
    write_file_atomic(dir_ / "oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
    write_file_atomic(dir_ / "index.json", oci::to_json(index));
    added_.clear();
  }

 private:
  static std::string blob_name(const oci::Digest& d) {
    return "blobs/" + std::string(d.algorithm_name()) + "/" + d.encoded();
  }
  fs::path blob_path(const oci::Digest& d) const { return dir_ / blob_name(d); }
  void read_index() {
    tags_.clear();
    auto text = read_file_in_root(root_.get(), "index.json", 64 << 20);
    if (!text) return;
    oci::Index index = oci::parse_index(*text);
    for (const auto& d : index.manifests) {
      auto name = d.annotations.find(oci::kRefNameAnnotation);
      if (name != d.annotations.end()) tags_.emplace(name->second, d);
    }
  }

  fs::path dir_;
  UniqueFd root_;
  std::map<std::string, oci::Descriptor> tags_;
  std::map<std::string, oci::Descriptor> added_;
  std::set<std::string> replaced_;
};

std::unique_ptr<Backend> open_backend(const CacheLocation& loc,
                                      const registry::RegistryOptions& options, bool writing) {
  if (loc.type == LocationType::kLocal) return std::make_unique<LocalBackend>(loc, writing);
  return std::make_unique<RegistryBackend>(
      loc, options, writing ? registry::Access::kPush : registry::Access::kPull);
}

/// The layer descriptor an entry names ("" digest: none).
std::optional<oci::Descriptor> entry_layer(const CacheEntry& e) {
  if (e.layer_digest.empty()) return std::nullopt;
  return oci::Descriptor{
      e.layer_media_type, oci::Digest::parse(e.layer_digest), e.layer_size, {}, {}, {}, {}};
}

/// Checks what an artifact or an inline entry says against the key asked for.
void check_entry(const CacheEntry& e, const std::string& key) {
  if (e.key != key) throw Error("the entry is for key " + e.key);
  if (!e.chain_key.empty()) oci::Digest::parse(e.chain_key);
  if (!e.layer_digest.empty()) {
    if (!oci::media_type::is_layer(e.layer_media_type)) {
      throw Error("`" + e.layer_media_type + "` is not a layer media type");
    }
    if (e.layer_size < 0) throw Error("negative layer size");
    oci::Digest::parse(e.diff_id);
  }
}

}  // namespace

/// One --cache-from source: its backend (opened at the first lookup) and, for an image
/// reference, the inline entries of that image.
struct SharedCacheReader::Source {
  CacheLocation location;
  std::mutex mutex;  ///< guards opening and `dead`
  std::unique_ptr<Backend> backend;
  bool opened = false;
  std::atomic<bool> dead{false};  ///< could not be reached: not asked again
  std::map<std::string, CacheEntry> inline_entries;
};

SharedCacheReader::SharedCacheReader(const oci::Store& store, std::vector<CacheLocation> sources,
                                     registry::RegistryOptions options, Warn warn)
    : store_(store), options_(std::move(options)), warn_(std::move(warn)) {
  for (auto& loc : sources) {
    auto s = std::make_unique<Source>();
    s->location = std::move(loc);
    sources_.push_back(std::move(s));
  }
}

SharedCacheReader::~SharedCacheReader() = default;

namespace {

/// Lookups of one source at the same time.
constexpr std::size_t kParallelLookups = 8;

/// The inline entries of the image `ref` names, when it is one built with type=inline.
std::map<std::string, CacheEntry> read_inline(Backend& backend, const CacheLocation& loc) {
  std::map<std::string, CacheEntry> out;
  oci::Reference ref = oci::Reference::parse(loc.ref);
  auto bytes = backend.manifest(ref.digest ? ref.digest->str() : *ref.tag);
  if (!bytes) return out;
  auto doc = oci::parse_manifest_document(*bytes, "");
  const auto* m = std::get_if<oci::Manifest>(&doc);
  if (!m) return out;
  auto a = m->annotations.find(std::string(kInlineAnnotation));
  if (a == m->annotations.end()) return out;
  json entries = json::parse(a->second);
  for (const auto& e : entries) {
    CacheEntry entry = parse_entry_document(e.dump());
    // Only layers of the image itself: the image's repository serves exactly those.
    bool in_image = entry.layer_digest.empty();
    for (const auto& l : m->layers) in_image = in_image || l.digest.str() == entry.layer_digest;
    if (in_image) out.emplace(entry.key, std::move(entry));
  }
  return out;
}

std::optional<CacheEntry> lookup(Backend& backend, const CacheLocation& loc,
                                 const std::map<std::string, CacheEntry>& inline_entries,
                                 const std::string& key) {
  if (auto it = inline_entries.find(key); it != inline_entries.end()) return it->second;
  auto bytes = backend.manifest(key_tag(loc, key));
  if (!bytes) return std::nullopt;
  oci::Manifest m = oci::parse_manifest(*bytes);
  if (m.config.media_type != kEntryMediaType) {
    throw Error("not a cache entry (config media type `" + m.config.media_type + "`)");
  }
  CacheEntry e = parse_entry_document(backend.small_blob(m.config));
  auto layer = entry_layer(e);
  if (m.layers.size() != (layer ? 1u : 0u) ||
      (layer && (m.layers[0].digest != layer->digest || m.layers[0].size != layer->size))) {
    throw Error("the manifest's layers are not the entry's layer");
  }
  return e;
}

}  // namespace

bool SharedCacheReader::open(Source& source) {
  std::lock_guard lock(source.mutex);
  if (source.dead) return false;
  if (source.opened) return true;
  source.opened = true;
  const std::string& name = source.location.text;
  try {
    source.backend = open_backend(source.location, options_, false);
  } catch (const std::exception& e) {
    source.dead = true;
    warn_("cache " + name + " cannot be read, building without it: " + e.what());
    return false;
  }
  if (source.location.type == LocationType::kRegistry) {
    try {
      source.inline_entries = read_inline(*source.backend, source.location);
    } catch (const registry::TransportError& e) {
      source.dead = true;
      warn_("cache " + name + " cannot be read, building without it: " + e.what());
      return false;
    } catch (const std::exception& e) {
      warn_("cache " + name + ": inline cache not read: " + e.what());
    }
  }
  return true;
}

void SharedCacheReader::stop_using(Source& source, const std::exception& e) {
  if (!source.dead.exchange(true)) {
    warn_("cache " + source.location.text + " stopped answering, building without it: " + e.what());
  }
}

std::optional<SharedHit> SharedCacheReader::find(const std::string& key) {
  return find_many({key})[0];
}

std::vector<std::optional<SharedHit>> SharedCacheReader::find_many(
    const std::vector<std::string>& keys) {
  std::vector<std::optional<SharedHit>> found(keys.size());
  for (std::size_t s = 0; s < sources_.size(); ++s) {
    Source& source = *sources_[s];
    std::vector<std::size_t> asked;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (!found[i]) asked.push_back(i);
    }
    if (asked.empty() || !open(source)) continue;
    registry::run_parallel(kParallelLookups, asked.size(), [&] {
      std::shared_ptr<Backend> mine = source.backend->clone();
      Backend* backend = mine ? mine.get() : source.backend.get();
      return [&, mine, backend](std::size_t n) {
        if (source.dead) return;
        const std::string& key = keys[asked[n]];
        if (refused(s, key)) return;
        try {
          auto entry = lookup(*backend, source.location, source.inline_entries, key);
          if (!entry) return;
          check_entry(*entry, key);
          found[asked[n]] = SharedHit{std::move(*entry), source.location.text, s};
        } catch (const registry::TransportError& e) {
          stop_using(source, e);
        } catch (const std::exception& e) {
          warn_("cache " + source.location.text + ": entry " + key + " not used: " + e.what());
          std::lock_guard lock(refused_mutex_);
          refused_.emplace(s, key);
        }
      };
    });
  }
  return found;
}

void SharedCacheReader::fetch_layer(const SharedHit& hit) {
  auto layer = entry_layer(hit.entry);
  if (!layer || store_.has_blob(layer->digest)) return;
  Source& source = *sources_.at(hit.source_index);
  try {
    std::unique_ptr<Backend> mine = source.backend->clone();
    (mine ? *mine : *source.backend).fetch_blob(*layer, store_);
  } catch (const registry::TransportError& e) {
    stop_using(source, e);
    throw Error("cache " + hit.source + ": layer " + layer->digest.str() + " of entry " +
                hit.entry.key + " not downloaded: " + e.what());
  } catch (const std::exception& e) {
    refuse(hit, std::string("its layer cannot be downloaded: ") + e.what());
    throw Error("cache " + hit.source + ": layer " + layer->digest.str() + " of entry " +
                hit.entry.key + " not downloaded: " + e.what());
  }
}

void SharedCacheReader::refuse(const SharedHit& hit, const std::string& why) {
  {
    std::lock_guard lock(refused_mutex_);
    if (!refused_.emplace(hit.source_index, hit.entry.key).second) return;
  }
  warn_("cache " + hit.source + ": entry " + hit.entry.key + " not used: " + why);
}

std::string SharedCacheReader::why_missed(const std::string& key) {
  std::string out;
  for (std::size_t s = 0; s < sources_.size(); ++s) {
    const Source& source = *sources_[s];
    std::string why = source.dead       ? "cannot be reached"
                      : refused(s, key) ? "entry refused"
                                        : "no entry";
    out += (out.empty() ? "" : "; ") + source.location.text + ": " + why;
  }
  return out;
}

bool SharedCacheReader::refused(std::size_t source, const std::string& key) {
  std::lock_guard lock(refused_mutex_);
  return refused_.count({source, key}) > 0;
}

std::optional<std::string> SharedCacheReader::layer_repository(const SharedHit& hit) const {
  const CacheLocation& loc = sources_.at(hit.source_index)->location;
  if (loc.type != LocationType::kRegistry) return std::nullopt;
  oci::Reference ref = oci::Reference::parse(loc.ref);
  return ref.domain + "/" + ref.path;
}

ExportReport export_entries(const oci::Store& store, const CacheLocation& to,
                            const std::vector<CacheEntry>& entries,
                            const registry::RegistryOptions& options) {
  ExportReport report;
  try {
    auto backend = open_backend(to, options, true);
    for (const auto& e : entries) {
      ++report.entries;
      std::string tag = key_tag(to, e.key);
      if (backend->manifest(tag)) {
        ++report.present;
        continue;
      }
      oci::Manifest m;
      m.media_type = std::string(oci::media_type::kOciManifest);
      if (auto layer = entry_layer(e)) {
        if (!backend->has_blob(layer->digest)) {
          backend->send_blob(*layer, store);
          ++report.blobs_sent;
        }
        m.layers.push_back(*layer);
      }
      std::string doc = entry_document(e);
      m.config = oci::Descriptor{std::string(kEntryMediaType),
                                 oci::sha256_of(doc),
                                 static_cast<std::int64_t>(doc.size()),
                                 {},
                                 {},
                                 {},
                                 {}};
      if (!backend->has_blob(m.config.digest)) backend->send_small_blob(m.config, doc);
      backend->tag_manifest(tag, oci::to_json(m), false);
      ++report.written;
    }
    backend->finish();
  } catch (const std::exception& e) {
    throw Error(describe("export cache to", to.text, e.what()));
  }
  return report;
}

namespace {

std::string mount_document(const MountArtifact& m) {
  return json{{"id", m.id}, {"diff_id", m.diff_id}, {"created", m.created}}.dump();
}

/// The artifact of mount `id` in `backend`, checked; nullopt when there is none.
std::optional<MountArtifact> read_mount(Backend& backend, const CacheLocation& loc,
                                        const std::string& id) {
  auto bytes = backend.manifest(mount_tag(loc, id));
  if (!bytes) return std::nullopt;
  oci::Manifest m = oci::parse_manifest(*bytes);
  if (m.config.media_type != kMountMediaType) {
    throw Error("not a cache mount (config media type `" + m.config.media_type + "`)");
  }
  if (m.layers.size() != 1 || !oci::media_type::is_layer(m.layers[0].media_type)) {
    throw Error("a cache mount has one layer");
  }
  json doc = json::parse(backend.small_blob(m.config));
  MountArtifact out;
  out.id = doc.at("id").get<std::string>();
  if (out.id != id) throw Error("the artifact is for cache mount `" + out.id + "`");
  out.diff_id = oci::Digest::parse(doc.at("diff_id").get<std::string>()).str();
  out.created = doc.value("created", "");
  out.layer = m.layers[0];
  return out;
}

}  // namespace

std::optional<MountArtifact> SharedCacheReader::find_mount(const std::string& id) {
  for (auto& source : sources_) {
    if (!source->location.cache_mounts || !open(*source)) continue;
    std::unique_ptr<Backend> mine = source->backend->clone();
    Backend& backend = mine ? *mine : *source->backend;
    try {
      auto found = read_mount(backend, source->location, id);
      if (!found) continue;
      backend.fetch_blob(found->layer, store_);
      return found;
    } catch (const registry::TransportError& e) {
      stop_using(*source, e);
    } catch (const std::exception& e) {
      warn_("cache " + source->location.text + ": cache mount `" + id + "` not used: " + e.what());
    }
  }
  return std::nullopt;
}

void export_mount(const CacheLocation& to, const MountArtifact& mount,
                  const std::filesystem::path& layer_file,
                  const registry::RegistryOptions& options) {
  try {
    auto backend = open_backend(to, options, true);
    if (!backend->has_blob(mount.layer.digest)) backend->send_file(mount.layer, layer_file);
    std::string doc = mount_document(mount);
    oci::Manifest m;
    m.media_type = std::string(oci::media_type::kOciManifest);
    m.config = oci::Descriptor{std::string(kMountMediaType),
                               oci::sha256_of(doc),
                               static_cast<std::int64_t>(doc.size()),
                               {},
                               {},
                               {},
                               {}};
    m.layers.push_back(mount.layer);
    if (!backend->has_blob(m.config.digest)) backend->send_small_blob(m.config, doc);
    backend->tag_manifest(mount_tag(to, mount.id), oci::to_json(m), true);
    backend->finish();
  } catch (const std::exception& e) {
    throw Error(describe("export cache mount `" + mount.id + "` to", to.text, e.what()));
  }
}

std::string inline_annotation(const std::vector<CacheEntry>& entries) {
  json out = json::array();
  for (const auto& e : entries) {
    CacheEntry bare = e;
    bare.part_digests.clear();  // the parts stay out of the image: they only explain misses
    out.push_back(json::parse(entry_document(bare)));
  }
  return out.dump();
}

}  // namespace mkimg::cache
