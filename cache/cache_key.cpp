#include "cache/cache_key.h"

#include "oci/digest.h"

namespace mkimg::cache {
namespace {

void feed(oci::Sha256& h, const std::string& s) {
  std::string len = std::to_string(s.size()) + ":";
  h.update(len);
  h.update(s);
}

}  // namespace

std::string compute_key(const StepKey& key) {
  oci::Sha256 h;
  feed(h, kCacheFormatVersion);
  feed(h, key.parent);
  for (const auto& p : key.parts) {
    feed(h, p.name);
    feed(h, p.value);
  }
  return h.finish().str();
}

std::string part_digest(const KeyPart& part) { return oci::sha256_of(part.value).str(); }

std::vector<KeyPart> fold_sources(const std::vector<KeyPart>& digests, std::size_t limit) {
  auto is_source = [](const KeyPart& p) { return p.name.rfind("source:", 0) == 0; };
  std::size_t sources = 0;
  for (const auto& p : digests) sources += is_source(p) ? 1 : 0;
  if (sources <= limit) return digests;
  std::vector<KeyPart> out;
  oci::Sha256 h;
  bool placed = false;
  for (const auto& p : digests) {
    if (!is_source(p)) {
      out.push_back(p);
      continue;
    }
    feed(h, p.name);
    feed(h, p.value);
    if (!placed) out.push_back({kFoldedSources, ""});
    placed = true;
  }
  for (auto& p : out) {
    if (p.name == kFoldedSources && p.value.empty()) p.value = h.finish().str();
  }
  return out;
}

}  // namespace mkimg::cache
