#include "builder/shared_cache.h"

#include <spdlog/spdlog.h>

#include <vector>

#include "oci/reference.h"
#include "oci/store.h"
#include "oci/transport.h"
#include "registry/client.h"
#include "registry/download.h"
#include "registry/parallel.h"
#include "runtime/cancel.h"
#include "snapshot/apply.h"
#include "snapshot/layer_store.h"
#include "snapshot/layer_writer.h"

namespace mkimg::builder {
namespace {

/// A shared entry names at most this many sources one by one (--explain on the runner that
/// adopts it names the changed file); a larger COPY's are folded into one part.
constexpr std::size_t kSharedSourceParts = 64;

/// The entries of the final image's chain, bottom first, with their parts.
std::vector<cache::CacheEntry> chain_entries(BuildSession& session, std::size_t target) {
  std::vector<cache::CacheEntry> chain;
  std::lock_guard lock(session.used_mutex);
  // Top down; a COPY --link joins two chains: its own, then the one below it.
  std::vector<std::string> keys{session.finished[target]->cache_key};
  while (!keys.empty()) {
    std::string key = keys.back();
    keys.pop_back();
    while (true) {
      if (auto it = session.used.find(key); it != session.used.end()) {
        if (it->second.alias) chain.push_back(*it->second.alias);
        chain.push_back(it->second.entry);
        key = it->second.parent;
      } else if (auto j = session.links.find(key); j != session.links.end()) {
        keys.push_back(j->second.first);
        key = j->second.second;
      } else {
        break;
      }
    }
  }
  return {chain.rbegin(), chain.rend()};
}

std::vector<cache::CacheEntry> all_entries(BuildSession& session) {
  std::lock_guard lock(session.used_mutex);
  std::vector<cache::CacheEntry> out;
  for (const auto& [key, used] : session.used) {
    out.push_back(used.entry);
    if (used.alias) out.push_back(*used.alias);
  }
  return out;
}

/// The remote layers among `layers` that are not in the store yet.
std::vector<RemoteLayer> missing_remote(BuildSession& session,
                                        const std::vector<oci::Descriptor>& layers) {
  std::vector<RemoteLayer> out;
  std::lock_guard lock(session.remote_mutex);
  for (const auto& d : layers) {
    auto it = session.remote_layers.find(d.digest.str());
    if (it == session.remote_layers.end() || it->second.fetched) continue;
    if (session.store->has_blob(d.digest)) {
      it->second.fetched = true;
      if (it->second.hit) session.cache->put(it->second.parent, it->second.hit->entry);
      continue;
    }
    out.push_back(it->second);
  }
  return out;
}

/// Fetches the layer of `hit` and checks its diff_id; false when unusable (the reader has
/// refused the entry and warned).
bool fetch_and_check(BuildSession& session, const cache::SharedHit& hit) {
  const cache::CacheEntry& e = hit.entry;
  try {
    session.shared_cache->fetch_layer(hit);
  } catch (const std::exception& ex) {
    spdlog::debug("{}", ex.what());
    return false;
  }
  // The blob's digest was checked on the way in; its media type and the diff_id the entry
  // claims are checked here, as a pull checks a layer's, so an image never names a compression
  // or a diff_id its layer does not have.
  oci::Descriptor layer;
  layer.media_type = e.layer_media_type;
  layer.digest = oci::Digest::parse(e.layer_digest);
  layer.size = e.layer_size;
  try {
    oci::verify_layer_blob(*session.store, layer);
  } catch (const std::exception& ex) {
    session.shared_cache->refuse(hit, ex.what());
    return false;
  }
  std::string actual =
      snapshot::blob_diff_id(session.store->blob_path(oci::Digest::parse(e.layer_digest)));
  if (actual != e.diff_id) {
    session.shared_cache->refuse(hit, "its layer has diff_id " + actual + ", not " + e.diff_id);
    return false;
  }
  return true;
}

/// Downloads one remote layer and checks it. Throws RemoteLayerUnusable for a shared-cache
/// hit's layer (the build starts again without it), mkimg::Error for a base's (its diff_id is
/// checked when it is unpacked).
void fetch_one(BuildSession& session, const RemoteLayer& r) {
  if (r.hit) {
    if (!fetch_and_check(session, *r.hit)) {
      throw RemoteLayerUnusable("the layer of cache entry " + r.hit->entry.key + " from " +
                                r.hit->source + " is unusable");
    }
    return;
  }
  auto ref = oci::Reference::parse(r.origin);
  try {
    auto client = registry::RegistryClient::connect(ref.domain, ref.path, registry::Access::kPull,
                                                    session.options->registry);
    registry::download_blob(client, *session.store, r.descriptor);
  } catch (const std::exception& e) {
    throw Error(
        describe("fetch base layer", r.descriptor.digest.str() + " from " + r.origin, e.what()));
  }
}

}  // namespace

bool adopt_shared_hit(BuildSession& session, const cache::SharedHit& hit,
                      const std::string& parent) {
  if (hit.entry.layer_digest.empty()) {
    session.cache->put(parent, hit.entry);
    return true;
  }
  if (!session.shared_cache->layer_repository(hit)) {
    // A local directory: nothing to save by waiting, and a bad layer is still a plain miss.
    if (!fetch_and_check(session, hit)) return false;
    session.cache->put(parent, hit.entry);
    return true;
  }
  std::lock_guard lock(session.remote_mutex);
  session.remote_layers.emplace(hit.entry.layer_digest, RemoteLayer{hit, parent, "", {}, false});
  return true;
}

void add_base_layers(BuildSession& session, const std::vector<oci::Descriptor>& layers,
                     const std::string& origin) {
  std::lock_guard lock(session.remote_mutex);
  for (const auto& d : layers) {
    if (!d.urls.empty() || session.store->has_blob(d.digest)) continue;
    session.remote_layers.emplace(d.digest.str(), RemoteLayer{std::nullopt, "", origin, d, false});
  }
}

void fetch_remote_layers(BuildSession& session, const std::vector<oci::Descriptor>& layers) {
  std::lock_guard fetching(session.fetch_mutex);
  std::vector<RemoteLayer> missing = missing_remote(session, layers);
  if (missing.empty()) return;
  spdlog::debug("downloading {} layer(s) not fetched until now", missing.size());
  registry::run_parallel(session.options->registry.parallel_blobs, missing.size(),
                         [&] { return [&](std::size_t i) { fetch_one(session, missing[i]); }; });
  std::lock_guard lock(session.remote_mutex);
  for (const auto& r : missing) {
    if (!r.hit) {
      session.remote_layers[r.descriptor.digest.str()].fetched = true;
      continue;
    }
    session.remote_layers[r.hit->entry.layer_digest].fetched = true;
    session.cache->put(r.parent, r.hit->entry);
  }
}

std::map<std::string, std::string> layer_origins(BuildSession& session,
                                                 const std::vector<oci::Descriptor>& layers) {
  std::map<std::string, std::string> out;
  std::lock_guard lock(session.remote_mutex);
  for (const auto& d : layers) {
    auto it = session.remote_layers.find(d.digest.str());
    if (it == session.remote_layers.end()) continue;
    if (!it->second.hit) {
      out.emplace(d.digest.str(), it->second.origin);
    } else if (auto repo = session.shared_cache->layer_repository(*it->second.hit)) {
      out.emplace(d.digest.str(), *repo);
    }
  }
  return out;
}

std::map<std::string, std::string> inline_cache_annotations(BuildSession& session,
                                                            std::size_t target) {
  for (const auto& to : session.options->cache_to) {
    if (to.type == cache::LocationType::kInline) {
      return {{std::string(cache::kInlineAnnotation),
               cache::inline_annotation(chain_entries(session, target))}};
    }
  }
  return {};
}

bool use_cache_mount(BuildSession& session, const std::string& id,
                     const std::filesystem::path& dir) {
  std::lock_guard lock(session.mounts_mutex);
  session.used_mounts.emplace(id, dir);
  if (!session.shared_cache || !session.asked_mounts.insert(id).second) return false;
  std::error_code ec;
  if (std::filesystem::exists(dir, ec)) return false;  // this runner's own is newer
  auto found = session.shared_cache->find_mount(id);
  if (!found) return false;
  try {
    snapshot::ApplyLimits limits;
    limits.keep_going = runtime::keep_going;
    snapshot::unpack_layer(session.store->blob_path(found->layer.digest), dir, found->diff_id,
                           limits);
  } catch (const std::exception& e) {
    session.events->note("warning: cache mount `" + id + "` not used: " + e.what());
    return false;
  }
  spdlog::debug("cache mount `{}` filled from the shared cache ({} bytes)", id, found->layer.size);
  return true;
}

namespace {

/// Writes every cache mount the build used to `to` (cache-mounts=true).
void export_mounts(BuildSession& session, const cache::CacheLocation& to) {
  std::map<std::string, std::filesystem::path> mounts;
  {
    std::lock_guard lock(session.mounts_mutex);
    mounts = session.used_mounts;
  }
  for (const auto& [id, dir] : mounts) {
    std::filesystem::path file = session.store->temp_path("mount-");
    try {
      snapshot::LayerOptions options;
      options.compression = session.options->compression;
      snapshot::LayerBlob blob = snapshot::write_layer_from_dir(dir, file, options);
      cache::MountArtifact m;
      m.id = id;
      m.layer = oci::Descriptor{
          blob.media_type, oci::Digest::parse(blob.digest), blob.size, {}, {}, {}, {}};
      m.diff_id = blob.diff_id;
      m.created = created_time(*session.options);
      cache::export_mount(to, m, file, session.options->registry);
      session.events->note("exporting cache mount `" + id + "` to " + to.text + ": " +
                           std::to_string(blob.size) + " bytes");
    } catch (const std::exception& e) {
      session.events->note(std::string("warning: ") + e.what());
    }
    std::error_code ec;
    std::filesystem::remove(file, ec);
  }
}

}  // namespace

void export_shared_cache(BuildSession& session, std::size_t target) {
  for (const auto& to : session.options->cache_to) {
    if (to.type == cache::LocationType::kInline) continue;
    if (to.cache_mounts) export_mounts(session, to);
    auto entries =
        to.mode == cache::ExportMode::kMax ? all_entries(session) : chain_entries(session, target);
    for (auto& e : entries) {
      if (e.part_digests.empty()) e.part_digests = session.cache->parts(e.key);
      e.part_digests = cache::fold_sources(e.part_digests, kSharedSourceParts);
    }
    try {
      auto report = cache::export_entries(*session.store, to, entries, session.options->registry);
      session.events->note("exporting cache to " + to.text + ": " + std::to_string(report.written) +
                           " new, " + std::to_string(report.present) + " already there, " +
                           std::to_string(report.blobs_sent) + " layers sent");
    } catch (const std::exception& e) {
      spdlog::debug("cache export failed: {}", e.what());
      session.events->note(std::string("warning: ") + e.what());
    }
  }
}

}  // namespace mkimg::builder
