// Internal to snapshot/: the output end of the layer writer. Takes the uncompressed tar
// bytes, hashes them (diff_id), compresses them on worker threads in blocks of at most 1 MiB
// and writes the result to a file, hashing it on the way (blob digest). The output bytes depend
// on the compression and level only, never on the number of threads. gzip: every block is one
// gzip member compressed by libdeflate (about twice zlib's speed at level 6, and no smaller a
// ratio on layer data); the members concatenate into one valid gzip file. A block ends at
// 1 MiB, or where a tar entry starts once the block holds 256 KiB and the entry's path hashes
// to 0 mod 16: cut points that depend on the content, so after one changed file the blocks
// line up again at the next such entry, and a rebuild can copy the unchanged blocks' members
// from the earlier blob (EarlierLayer) instead of compressing them again. An entry may also be
// given as a range of the earlier blob's tar (write_earlier): a block made only of such a range
// that is exactly an earlier member is copied, other blocks get those bytes by decompressing
// the earlier members; every earlier member used is checked against its hash, but for the
// first members of a checked earlier blob: while the new layer's blocks are exactly those, they
// are copied unread and the diff_id's hash goes on from the earlier layer's state after them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/fd.h"
#include "snapshot/layer_writer.h"

namespace mkimg::snapshot {

/// What a finished CompressedSink wrote.
struct SinkResult {
  std::string digest;   ///< of the compressed bytes
  std::string diff_id;  ///< of the uncompressed bytes
  int64_t size = 0;
  int64_t tar_size = 0;
  std::vector<BlobMember> members;  ///< gzip with indexing
  int64_t members_reused = 0;
  int64_t members_unread = 0;  ///< copied first members not decompressed (LayerBlob)
};

/// A write-only byte sink that compresses and hashes into one file descriptor (owned).
class CompressedSink {
 public:
  /// `out` must be open for writing. `threads` 0 means one per core. gzip: `index_members`
  /// lists the members in the result; `earlier` (implies indexing) is taken bytes from.
  CompressedSink(UniqueFd out, Compression compression, int level, int threads,
                 bool index_members = false, const EarlierLayer* earlier = nullptr);
  ~CompressedSink();
  CompressedSink(const CompressedSink&) = delete;
  CompressedSink& operator=(const CompressedSink&) = delete;

  void write(const void* data, std::size_t size);
  /// True when write_earlier() may be used: gzip, with an earlier layer of the same format.
  bool has_earlier() const;
  /// Appends the `size` bytes at `offset` of the earlier layer's tar (has_earlier()).
  void write_earlier(int64_t offset, int64_t size);
  /// How many tar bytes were written so far.
  int64_t tar_offset() const;
  /// A tar entry at `path` starts with the next write: a gzip block may end here.
  void entry_start(std::string_view path);
  /// Writes everything out, fsyncs the file (a regular file only: not a pipe) and returns the
  /// hashes; call once. The store's commit then trusts both (oci::Verification::kTrustWriter).
  SinkResult finish();

  static constexpr std::size_t kBlockSize = std::size_t{1} << 20;
  static constexpr std::size_t kMinMember = std::size_t{256} << 10;
  static constexpr uint64_t kCutOneIn = 16;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Thrown when the earlier layer's bytes are not what its record says (a damaged blob or
/// record): the layer is then written again without it.
class EarlierMismatch : public Error {
 public:
  using Error::Error;
};

}  // namespace mkimg::snapshot
