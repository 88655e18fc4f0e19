#include "builder/shared_cache.h"

#include <spdlog/spdlog.h>

#include <vector>

#include "oci/store.h"

namespace mkimg::builder {
namespace {

/// The entries of the final image's chain, bottom first, with their parts.
std::vector<cache::CacheEntry> chain_entries(BuildSession& session, std::size_t target) {
  std::vector<cache::CacheEntry> chain;
  std::lock_guard lock(session.used_mutex);
  std::string key = session.finished[target]->cache_key;
  for (auto it = session.used.find(key); it != session.used.end();
       it = session.used.find(it->second.parent)) {
    chain.push_back(it->second.entry);
  }
  return {chain.rbegin(), chain.rend()};
}

std::vector<cache::CacheEntry> all_entries(BuildSession& session) {
  std::lock_guard lock(session.used_mutex);
  std::vector<cache::CacheEntry> out;
  for (const auto& [key, used] : session.used) out.push_back(used.entry);
  return out;
}

}  // namespace

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

void export_shared_cache(BuildSession& session, std::size_t target) {
  for (const auto& to : session.options->cache_to) {
    if (to.type == cache::LocationType::kInline) continue;
    auto entries =
        to.mode == cache::ExportMode::kMax ? all_entries(session) : chain_entries(session, target);
    for (auto& e : entries) {
      if (e.part_digests.empty()) e.part_digests = session.cache->parts(e.key);
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
