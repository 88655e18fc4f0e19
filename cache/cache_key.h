// Step cache keys (docs/cache.md "The key"): key(step) = sha256(format version, key(parent),
// each named part of the canonical instruction and its inputs). The parts are kept by name so
// that a miss can be explained: which part differs from the entry the same parent had before.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace mkimg::cache {

/// Bumped whenever what goes into a key changes meaning.
inline constexpr const char* kCacheFormatVersion = "mkimg-cache-v2";

/// One named input of a key ("instruction", "env", "source:app/main.c", ...).
struct KeyPart {
  std::string name;
  std::string value;
};

/// The inputs of one step's key.
struct StepKey {
  std::string parent;  ///< the parent step's key ("" for a base)
  std::vector<KeyPart> parts;
};

/// "sha256:<hex>" of the format version, the parent and every part (length-prefixed, so no
/// two different inputs give the same byte stream).
std::string compute_key(const StepKey& key);

/// sha256 of one part's value: what the cache index stores to explain misses.
std::string part_digest(const KeyPart& part);

/// Above this many "source:..." parts, part_digests() gives one part a directory.
inline constexpr std::size_t kSourcePartsPerFile = 1000;

/// The digests of `key`'s parts, what a cache entry records to explain a miss: part_digest()
/// of each part, but for a COPY of more than kSourcePartsPerFile files one part a directory,
/// "sources:/dir/" (the digest of the names and values of the parts of the files directly in
/// it, in order), where it first appears. A miss then names the directories that changed;
/// 100,000 digests, sorted and written at every build, cost more than the step they explain.
std::vector<KeyPart> part_digests(const StepKey& key);

/// The name of the one part that stands for every "source:..." part of a folded list.
inline constexpr const char* kFoldedSources = "sources";

/// Part digests (name -> digest) with more than `limit` "source:..." (or "sources:...") parts
/// replaced by one kFoldedSources part (the digest of their names and digests in order): a COPY of
/// a large tree names every file, hundreds of kB that a shared cache entry should not carry. Fewer
/// source parts are returned as they are.
std::vector<KeyPart> fold_sources(const std::vector<KeyPart>& digests, std::size_t limit);

}  // namespace mkimg::cache
