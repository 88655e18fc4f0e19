#include "builder/layer_step.h"

#include <spdlog/spdlog.h>
#include <sys/mount.h>

#include <exception>
#include <optional>

#include "builder/history.h"
#include "builder/shared_cache.h"
#include "builder/steps.h"
#include "common/error.h"
#include "common/parallel.h"
#include "common/temp_dir.h"
#include "common/user_namespace.h"
#include "oci/store.h"
#include "runtime/cancel.h"
#include "runtime/mount_stubs.h"
#include "runtime/overlay_mount.h"
#include "snapshot/diff.h"
#include "snapshot/layer_store.h"

namespace mkimg::builder {
namespace {
thread_local KeySpeculation* current_speculation = nullptr;
}  // namespace

KeySpeculation::KeySpeculation() { current_speculation = this; }
KeySpeculation::~KeySpeculation() { current_speculation = nullptr; }
bool speculating() { return current_speculation != nullptr; }

std::vector<std::filesystem::path> image_lowers(BuildSession& session, const ImageState& image) {
  if (speculating()) throw Error("the key of this step needs a root file system");
  fetch_remote_layers(session, image.layers);
  return snapshot::overlay_lowers(snapshot::ensure_image_unpacked(
      *session.store, image.config, image.layers, session.pending.get(), runtime::keep_going));
}

namespace {

/// A work area in <root>/tmp (upper; work and merged once an overlay needs them) removed
/// unless the upper is adopted. Mode 0755 like the root it becomes, not mkdtemp's 0700.
class WorkArea {
 public:
  /// The area is removed on `beside` (the session's Background) when it goes, off the path of
  /// the steps that follow.
  WorkArea(const oci::Store& store, Background& beside)
      : base_(store.tmp_dir(), "step-"), beside_(beside) {
    ::chmod(base_.path().c_str(), 0755);
    std::filesystem::create_directory(upper());
  }
  WorkArea(const WorkArea&) = delete;
  WorkArea& operator=(const WorkArea&) = delete;
  ~WorkArea() {
    try {
      base_.remove_beside(beside_);
    } catch (const std::exception&) {
      // no thread: base_ removes it here
    }
  }
  void make_overlay_dirs() const {
    for (const char* d : {"work", "merged"}) std::filesystem::create_directory(base_ / d);
  }
  std::filesystem::path upper() const { return base_ / "upper"; }
  std::filesystem::path work() const { return base_ / "work"; }
  std::filesystem::path merged() const { return base_ / "merged"; }
  std::filesystem::path blob() const { return base_ / "layer.blob"; }

 private:
  TempDir base_;
  Background& beside_;
};

snapshot::LayerOptions layer_options(const BuildOptions& options) {
  snapshot::LayerOptions o;
  o.compression = options.compression;
  o.source_date_epoch = options.source_date_epoch;
  o.keep_going = runtime::keep_going;
  return o;
}

void add_history(BuildSession& session, StageState& stage, const std::string& created_by,
                 bool empty) {
  oci::HistoryEntry h;
  h.created = stage.image.created.empty() || session.options->source_date_epoch
                  ? created_time(*session.options)
                  : stage.image.created;
  h.created_by = created_by;
  h.comment = kHistoryComment;
  if (empty) h.empty_layer = true;
  stage.image.config.history.push_back(h);
}

/// Layers are unpacked when a step first needs them (a COPY written straight into its layer,
/// or a cached one, has no directory until then).
void append_layer(StageState& stage, const cache::CacheEntry& entry) {
  oci::Descriptor d;
  d.media_type = entry.layer_media_type;
  d.digest = oci::Digest::parse(entry.layer_digest);
  d.size = entry.layer_size;
  stage.image.layers.push_back(d);
  stage.image.config.rootfs.diff_ids.push_back(oci::Digest::parse(entry.diff_id));
}

/// Commits a step's layer blob to the store and returns the cache entry; `upper`, when given,
/// becomes the layer's unpacked directory. A blob without entries (the step changed nothing) is
/// a layer too: BuildKit records every RUN, COPY, ADD and WORKDIR (but WORKDIR /) as a layer
/// (dockerfile2llb commitToHistory withLayer=true), an empty tar when its diff is empty.
cache::CacheEntry commit(BuildSession& session, const StageState& stage, const std::string& key,
                         const snapshot::LayerBlob& blob, const StepTimer& timer,
                         const std::filesystem::path* upper, const char* how,
                         const std::string& below = "") {
  const oci::Store& store = *session.store;
  cache::CacheEntry entry;
  entry.key = key;
  store.commit_file(blob.file, oci::Digest::parse(blob.digest), oci::Verification::kTrustWriter);
  spdlog::debug("layer committed: {} ({} bytes, {} entries, {:.2f}s{})", blob.digest, blob.size,
                blob.entries, timer.seconds(), how);
  entry.layer_digest = blob.digest;
  entry.layer_media_type = blob.media_type;
  entry.layer_size = blob.size;
  entry.diff_id = blob.diff_id;
  if (upper) {
    std::string parent_chain;
    auto chains = snapshot::chain_ids(stage.image.config);
    if (!chains.empty()) parent_chain = chains.back();
    session.pending->add(*upper, snapshot::chain_id(parent_chain, blob.diff_id), below);
  }
  return entry;
}

/// Executes the step for real and returns its cache entry.
cache::CacheEntry execute(BuildSession& session, StageState& stage, const std::string& key,
                          const StepWork& work, const DirectWork& direct) {
  const oci::Store& store = *session.store;
  WorkArea area(store, session.background);
  StepTimer timer;
  auto options = layer_options(*session.options);
  LayerWriter writer = direct.plan ? direct.plan() : LayerWriter();
  if (writer && !direct.also_on_disk) {
    return commit(session, stage, key, writer(area.blob(), options), timer, nullptr,
                  ", written from the sources");
  }
  auto upper = area.upper();
  if (writer) {
    // The blob is written on a thread while the files are written into the upper directory.
    // When the files fail, the writer is waited for (and its error dropped) as `writing` goes.
    std::optional<snapshot::LayerBlob> written;
    Background writing;
    writing.run([&] { written = writer(area.blob(), options); });
    std::string below = direct.materialize(upper);
    writing.wait();
    return commit(session, stage, key, *written, timer, &upper,
                  ", written from the sources beside the files", below);
  }
  auto lowers = image_lowers(session, stage.image);
  std::vector<runtime::MountStub> stubs;
  area.make_overlay_dirs();
  {
    runtime::OverlayMount mount(lowers, lowers.empty() ? session.empty_dir() : "", area.upper(),
                                area.work(), area.merged());
    Background preparing;  // what the layer's writing sets up once, while the step works
    snapshot::prepare_layer_writing(preparing);
    stubs = work(area.merged());
    mount.unmount();
  }
  runtime::remove_mount_stubs(upper, stubs);
  StepTimer diff_timer;
  auto blob = snapshot::diff_overlay_upper(upper, lowers, area.blob(), options);
  return commit(session, stage, key, blob, diff_timer, &upper, "");
}

/// A usable entry for `k`: from the store's index when its layer blob is there, else from the
/// first --cache-from source that has a good one (then recorded in the index). `source` is
/// "" for a local hit.
struct Found {
  cache::CacheEntry entry;
  std::string source;
};

std::optional<Found> find_cached(BuildSession& session, const cache::StepKey& key,
                                 const std::string& k) {
  if (auto hit = session.cache->find(k)) {
    if (hit->layer_digest.empty() ||
        session.store->has_blob(oci::Digest::parse(hit->layer_digest))) {
      return Found{std::move(*hit), ""};
    }
  }
  if (!session.shared_cache) return std::nullopt;
  std::optional<cache::SharedHit> shared;
  bool asked = false;
  {
    std::lock_guard lock(session.remote_mutex);
    if (auto it = session.prefetched.find(k); it != session.prefetched.end()) {
      shared = it->second;
      asked = true;
    }
  }
  if (!asked) shared = session.shared_cache->find(k);
  if (!shared) {
    if (session.options->explain == ExplainMode::kExplain) {
      session.events->note("cache miss in --cache-from too: " +
                           session.shared_cache->why_missed(k));
    }
    return std::nullopt;
  }
  if (!adopt_shared_hit(session, *shared, key.parent)) return std::nullopt;
  ++session.shared_hits;
  return Found{std::move(shared->entry), shared->source};
}

void record_used(BuildSession& session, const std::string& parent, cache::CacheEntry entry,
                 std::optional<cache::CacheEntry> alias = std::nullopt) {
  std::lock_guard lock(session.used_mutex);
  std::string k = entry.key;
  session.used.insert_or_assign(k, UsedEntry{parent, std::move(entry), std::move(alias)});
}

/// The stage's image after a cached step: its layer, history, created time and key.
void apply_hit(BuildSession& session, StageState& stage, const StepDescription& description,
               const cache::CacheEntry& entry, const std::string& key) {
  if (!entry.layer_digest.empty()) append_layer(stage, entry);
  stage.image.created = entry.created.empty() || session.options->source_date_epoch
                            ? created_time(*session.options)
                            : entry.created;
  add_history(session, stage, description.created_by, entry.layer_digest.empty());
  stage.image.cache_key = key;
  ++session.cached_steps;
}

void show_hit(BuildSession& session, const StepDescription& description, const Found& hit,
              const std::string& key) {
  spdlog::debug("cache hit {}{}: {}", key, hit.source.empty() ? "" : " in " + hit.source,
                description.text);
  session.events->cached(description.label, description.text);
  if (!hit.source.empty() && session.options->explain == ExplainMode::kExplain) {
    session.events->note("cache hit in " + hit.source);
  }
}

/// The entry of a step under its alias key: the step's own entry, pointing back at its key.
cache::CacheEntry alias_entry(const cache::CacheEntry& entry, const cache::StepKey& alias) {
  cache::CacheEntry a = entry;
  a.key = cache::compute_key(alias);
  a.chain_key = entry.key;
  a.part_digests = cache::part_digests(alias);
  return a;
}

/// reuse_by_alias while speculating: the stage continues from the key the alias entry names
/// (the store's, else the shared cache's, asked now: the next keys depend on it).
bool speculate_alias(BuildSession& session, StageState& stage, const std::string& k) {
  std::optional<cache::CacheEntry> entry = session.cache->find(k);
  if (!entry && session.shared_cache) {
    auto shared = session.shared_cache->find(k);
    std::lock_guard lock(session.remote_mutex);
    session.prefetched.emplace(k, shared);
    if (shared) entry = shared->entry;
  }
  if (!entry || entry->chain_key.empty()) return false;
  current_speculation->keys.push_back(k);
  stage.image.cache_key = entry->chain_key;
  return true;
}

}  // namespace

void prefetch_shared_hits(BuildSession& session, const StageState& stage,
                          const std::vector<parser::Instruction>& instructions,
                          const std::vector<bool>& read_later) {
  if (!session.shared_cache || stage_cache_mode(session, stage.index) != CacheMode::kUse) return;
  std::vector<std::string> keys;
  {
    KeySpeculation speculation;
    StageState copy = stage;
    try {
      for (std::size_t i = 0; i < instructions.size(); ++i) {
        run_instruction(session, copy, instructions[i], "", read_later[i]);
      }
    } catch (const std::exception& e) {
      spdlog::debug("keys known ahead stop: {}", e.what());
    }
    keys = std::move(speculation.keys);
  }
  std::vector<std::string> ask;
  {
    std::lock_guard lock(session.remote_mutex);
    for (const auto& k : keys) {
      if (session.prefetched.count(k)) continue;
      auto local = session.cache->find(k);
      if (local && (local->layer_digest.empty() ||
                    session.store->has_blob(oci::Digest::parse(local->layer_digest)))) {
        continue;
      }
      ask.push_back(k);
    }
  }
  if (ask.empty()) return;
  StepTimer timer;
  auto found = session.shared_cache->find_many(ask);
  std::lock_guard lock(session.remote_mutex);
  int hits = 0;
  for (std::size_t i = 0; i < ask.size(); ++i) {
    hits += found[i] ? 1 : 0;
    session.prefetched.emplace(ask[i], std::move(found[i]));
  }
  spdlog::debug("asked the shared cache for {} keys at once: {} hits ({:.3f}s)", ask.size(), hits,
                timer.seconds());
}

bool reuse_by_alias(BuildSession& session, StageState& stage, const cache::StepKey& alias,
                    const StepDescription& description) {
  if (stage_cache_mode(session, stage.index) != CacheMode::kUse) return false;
  std::string k = cache::compute_key(alias);
  if (speculating()) return speculate_alias(session, stage, k);
  auto hit = find_cached(session, alias, k);
  if (!hit || hit->entry.chain_key.empty()) return false;
  ++session.steps;
  show_hit(session, description, *hit, k);
  cache::CacheEntry own = hit->entry;
  own.key = own.chain_key;
  own.chain_key.clear();
  own.part_digests.clear();
  apply_hit(session, stage, description, own, own.key);
  record_used(session, alias.parent, std::move(own), std::move(hit->entry));
  return true;
}

void run_layer_step(BuildSession& session, StageState& stage, const cache::StepKey& key,
                    const StepDescription& description, const StepWork& work,
                    const DirectWork& direct, const cache::StepKey* alias) {
  std::string k = cache::compute_key(key);
  if (speculating()) {
    current_speculation->keys.push_back(k);
    stage.image.cache_key = k;
    return;
  }
  ++session.steps;
  CacheMode mode = stage_cache_mode(session, stage.index);
  if (mode == CacheMode::kUse) {
    if (auto hit = find_cached(session, key, k)) {
      show_hit(session, description, *hit, k);
      apply_hit(session, stage, description, hit->entry, k);
      std::optional<cache::CacheEntry> other;
      if (alias) {
        other = alias_entry(hit->entry, *alias);
        session.cache->put(alias->parent, *other);
      }
      record_used(session, key.parent, std::move(hit->entry), std::move(other));
      return;
    }
  }
  spdlog::debug("cache miss {}{}: {}", k, mode == CacheMode::kUse ? "" : " (--no-cache)",
                description.text);
  session.events->step(description.label, description.text);
  if (session.options->explain == ExplainMode::kExplain) {
    session.events->note("cache miss: " + session.cache->explain_miss(key));
  }
  StepTimer timer;
  cache::CacheEntry entry = execute(session, stage, k, work, direct);
  entry.part_digests = cache::part_digests(key);
  entry.created = created_time(*session.options);
  stage.image.created = entry.created;
  if (!entry.layer_digest.empty()) append_layer(stage, entry);
  add_history(session, stage, description.created_by, entry.layer_digest.empty());
  std::optional<cache::CacheEntry> other;
  if (alias) other = alias_entry(entry, *alias);
  if (mode != CacheMode::kBypass) {
    session.cache->put(key.parent, entry);
    if (other) session.cache->put(alias->parent, *other);
  }
  stage.image.cache_key = k;
  // Only --cache-to reads the part digests again.
  if (session.options->cache_to.empty()) std::vector<cache::KeyPart>().swap(entry.part_digests);
  record_used(session, key.parent, std::move(entry), std::move(other));
  session.events->done(description.label, timer.seconds());
}

void add_metadata_history(BuildSession& session, StageState& stage, const std::string& created_by) {
  add_history(session, stage, created_by, true);
}

ImageView::ImageView(BuildSession& session, const ImageState& image)
    : root_(session.store->temp_path("view-")) {
  std::filesystem::create_directories(root_);
  auto lowers = image_lowers(session, image);
  if (lowers.empty()) lowers.push_back(session.empty_dir());
  if (lowers.size() == 1) {
    bind_read_only(lowers[0]);
    return;
  }
  std::string opt = "lowerdir=";
  for (std::size_t i = 0; i < lowers.size(); ++i) {
    opt += (i ? ":" : "") + lowers[i].string();
  }
  if (in_user_namespace()) opt += ",userxattr";
  if (::mount("overlay", root_.c_str(), "overlay", MS_RDONLY, opt.c_str()) != 0) {
    throw sys_error("mount image view", root_.string());
  }
  mounted_ = true;
}

// Overlayfs refuses a read-only mount with one lower directory (EINVAL), so a single-layer
// image (busybox) is viewed through a read-only bind mount of that layer.
void ImageView::bind_read_only(const std::filesystem::path& layer) {
  if (::mount(layer.c_str(), root_.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    throw sys_error("mount image view", root_.string());
  }
  if (::mount(nullptr, root_.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) != 0) {
    int err = errno;
    ::umount2(root_.c_str(), MNT_DETACH);
    errno = err;
    throw sys_error("mount image view read-only", root_.string());
  }
  mounted_ = true;
}

ImageView::~ImageView() {
  if (mounted_ && ::umount2(root_.c_str(), 0) != 0) ::umount2(root_.c_str(), MNT_DETACH);
  std::error_code ec;
  std::filesystem::remove(root_, ec);
}

}  // namespace mkimg::builder
