// Internal to snapshot/: the decompressed bytes of a layer blob (gzip, zstd or plain, from
// its magic bytes), hashed as they are handed out (diff_id), with the total size and the
// decompression ratio capped.
#pragma once

#include <archive.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "common/error.h"
#include "snapshot/apply.h"

namespace mkimg::snapshot {

/// "larger than the limit of N bytes (...)": the cause for a layer, or one entry of it, beyond
/// ApplyLimits::max_total_bytes, naming the limit and how to raise it.
std::string over_layer_size_limit(int64_t limit);

/// Fills `data` with up to `size` bytes of a blob; returns 0 at its end; throws mkimg::Error on
/// failure (the stream names the blob before its message).
using BlobReader = std::function<std::size_t(void* data, std::size_t size)>;

/// A pull stream over one layer blob's uncompressed tar bytes.
class LayerStream {
 public:
  /// The blob file `blob`. `name` starts every message ("read layer `NAME`: ..."); empty: the
  /// caller names the layer around them (apply_layer: "apply layer `BLOB`: ...").
  LayerStream(const std::filesystem::path& blob, std::string name, const ApplyLimits& limits);
  /// The blob `read` hands out (a registry's, a store's through oci::BlobStream), `name` as
  /// above.
  LayerStream(std::string name, BlobReader read, const ApplyLimits& limits);
  ~LayerStream();
  LayerStream(const LayerStream&) = delete;
  LayerStream& operator=(const LayerStream&) = delete;

  /// Up to `size` bytes into `out`; 0 at the end. Throws mkimg::Error ("read layer `NAME`:
  /// ...") on a failed read, corrupt input or a broken limit.
  std::size_t read(char* out, std::size_t size);
  /// Reads (and hashes) whatever is left: the diff_id covers the whole stream.
  void drain();
  /// "sha256:..." of every byte read; call once, after drain().
  std::string diff_id();
  int64_t tar_size() const;
  /// An error whose message is `cause`, after "read layer `NAME`: " when the stream has a name.
  Error error(const std::string& cause) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// libarchive reading the tar bytes of `stream` (the tar format only: the stream decompressed
/// them), asking `keep_going` (ApplyLimits::keep_going; empty: never stops) before each 256 KiB.
/// The one reader of a layer's entries: applying (apply.h) and listing (layer_entries.h).
class TarOfStream {
 public:
  /// Opened; throws failure("tar header") when the tar cannot start.
  TarOfStream(LayerStream& stream, const std::function<bool()>& keep_going);
  ~TarOfStream();
  TarOfStream(const TarOfStream&) = delete;
  TarOfStream& operator=(const TarOfStream&) = delete;

  archive* get() const { return archive_; }
  /// What a libarchive failure reading `what` (an entry's path, "tar header") means: what the
  /// stream threw (a failed read, a corrupt blob, a limit, "interrupted"), else "WHAT:
  /// <libarchive's message>", both through LayerStream::error (the layer named once).
  Error failure(const std::string& what) const;

 private:
  static la_ssize_t read(archive* a, void* self, const void** out);
  LayerStream& stream_;
  const std::function<bool()>& keep_going_;
  std::string buffer_ = std::string(256 * 1024, '\0');
  std::string error_;
  archive* archive_ = nullptr;
};

}  // namespace mkimg::snapshot
