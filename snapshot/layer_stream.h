// Internal to snapshot/: the decompressed bytes of a layer blob (gzip, zstd or plain, from
// its magic bytes), hashed as they are handed out (diff_id), with the total size and the
// decompression ratio capped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "snapshot/apply.h"

namespace mkimg::snapshot {

/// "larger than the limit of N bytes (...)": the cause for a layer, or one entry of it, beyond
/// ApplyLimits::max_total_bytes, naming the limit and how to raise it.
std::string over_layer_size_limit(int64_t limit);

/// A pull stream over one layer blob's uncompressed tar bytes.
class LayerStream {
 public:
  LayerStream(const std::filesystem::path& blob, const ApplyLimits& limits);
  ~LayerStream();
  LayerStream(const LayerStream&) = delete;
  LayerStream& operator=(const LayerStream&) = delete;

  /// Up to `size` bytes into `out`; 0 at the end. Throws mkimg::Error on corrupt input or a
  /// broken limit.
  std::size_t read(char* out, std::size_t size);
  /// Reads (and hashes) whatever is left: the diff_id covers the whole stream.
  void drain();
  /// "sha256:..." of every byte read; call once, after drain().
  std::string diff_id();
  int64_t tar_size() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mkimg::snapshot
