// Internal to snapshot/: the output end of the layer writer. Takes the uncompressed tar
// bytes, hashes them (diff_id), compresses them on worker threads in fixed 1 MiB blocks and
// writes the result to a file, hashing it on the way (blob digest). The output bytes depend on
// the compression and level only, never on the number of threads. gzip: every block is one
// gzip member compressed by libdeflate (about twice zlib's speed at level 6, and no smaller a
// ratio on layer data); the members concatenate into one valid gzip file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "common/fd.h"
#include "snapshot/layer_writer.h"

namespace mkimg::snapshot {

/// What a finished CompressedSink wrote.
struct SinkResult {
  std::string digest;   ///< of the compressed bytes
  std::string diff_id;  ///< of the uncompressed bytes
  int64_t size = 0;
  int64_t tar_size = 0;
};

/// A write-only byte sink that compresses and hashes into one file descriptor (owned).
class CompressedSink {
 public:
  /// `out` must be open for writing. `threads` 0 means one per core.
  CompressedSink(UniqueFd out, Compression compression, int level, int threads);
  ~CompressedSink();
  CompressedSink(const CompressedSink&) = delete;
  CompressedSink& operator=(const CompressedSink&) = delete;

  void write(const void* data, std::size_t size);
  /// Flushes everything, fsyncs the file and returns the hashes; call once.
  SinkResult finish();

  static constexpr std::size_t kBlockSize = std::size_t{1} << 20;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mkimg::snapshot
