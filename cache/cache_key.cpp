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

}  // namespace mkimg::cache
