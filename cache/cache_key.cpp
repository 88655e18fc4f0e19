#include "cache/cache_key.h"

#include <algorithm>

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
  auto sources = static_cast<std::size_t>(std::count_if(digests.begin(), digests.end(), is_source));
  if (sources <= limit) return digests;
  oci::Sha256 h;
  for (const auto& p : digests) {
    if (!is_source(p)) continue;
    feed(h, p.name);
    feed(h, p.value);
  }
  std::string folded = h.finish().str();
  // The folded part takes the place of the first source part; the others keep their order.
  std::vector<KeyPart> out;
  bool placed = false;
  for (const auto& p : digests) {
    if (!is_source(p)) {
      out.push_back(p);
    } else if (!placed) {
      out.push_back({kFoldedSources, folded});
      placed = true;
    }
  }
  return out;
}

}  // namespace mkimg::cache
