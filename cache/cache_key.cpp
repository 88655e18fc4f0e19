#include "cache/cache_key.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <string_view>

#include "oci/digest.h"

namespace mkimg::cache {
namespace {

void feed(oci::Sha256& h, std::string_view s) {
  char len[24];
  char* end = std::to_chars(len, len + sizeof len - 1, s.size()).ptr;
  *end++ = ':';
  h.update(len, static_cast<std::size_t>(end - len));
  h.update(s);
}

bool is_source(const KeyPart& p) { return p.name.starts_with("source:"); }

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

std::vector<KeyPart> part_digests(const StepKey& key) {
  std::vector<KeyPart> out;
  auto sources =
      static_cast<std::size_t>(std::count_if(key.parts.begin(), key.parts.end(), is_source));
  if (sources <= kSourcePartsPerFile) {
    out.reserve(key.parts.size());
    for (const auto& p : key.parts) out.push_back({p.name, part_digest(p)});
    return out;
  }
  // One hasher a directory, its part placed where the directory's first file is.
  std::map<std::string_view, std::size_t> dirs;  // "/dir/" -> index in out and hashers
  std::vector<oci::Sha256> hashers;
  std::vector<std::size_t> hashed;  // the index in out of each hasher's part
  for (const auto& p : key.parts) {
    if (!is_source(p)) {
      out.push_back({p.name, part_digest(p)});
      continue;
    }
    std::string_view path = std::string_view(p.name).substr(7);  // after "source:"
    std::string_view dir = path.substr(0, path.rfind('/') + 1);
    auto [it, added] = dirs.try_emplace(dir, hashers.size());
    if (added) {
      hashers.emplace_back();
      hashed.push_back(out.size());
      out.push_back({"sources:" + std::string(dir), ""});
    }
    feed(hashers[it->second], p.name);
    feed(hashers[it->second], p.value);
  }
  for (std::size_t i = 0; i < hashers.size(); ++i) out[hashed[i]].value = hashers[i].finish().str();
  return out;
}

std::vector<KeyPart> fold_sources(const std::vector<KeyPart>& digests, std::size_t limit) {
  auto is_source = [](const KeyPart& p) {
    return p.name.starts_with("source:") || p.name.starts_with("sources:");
  };
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
