// Reading a layer tar as a list of entries with their metadata and content digests, for
// comparing layers (image_diff.h). The blob (gzip, zstd or plain tar) is pulled
// through a caller's read function and streamed through libarchive: nothing is unpacked to
// disk and no file content is held in memory (each regular file is hashed as it streams by).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "snapshot/layer_stream.h"

namespace mkimg::snapshot {

/// The type of a tar entry.
enum class TarEntryType {
  kFile,
  kDirectory,
  kSymlink,
  kHardlink,
  kCharDevice,
  kBlockDevice,
  kFifo
};

/// "file", "directory", "symlink", ...
std::string_view to_string(TarEntryType type);

/// One entry of a layer tar as stored in the tar: the path normalised ("./a/b/" is "a/b"),
/// everything else as in the header. Whiteouts are ordinary entries named `.wh.*`.
struct TarEntryInfo {
  std::string path;
  TarEntryType type = TarEntryType::kFile;
  std::uint32_t mode = 0;  ///< permission bits (07777)
  std::int64_t uid = 0, gid = 0;
  std::int64_t size = 0;  ///< content bytes (regular files)
  std::int64_t mtime = 0;
  long mtime_nsec = 0;
  std::string link_target;     ///< symlink or hardlink target
  std::string content_digest;  ///< "sha256:..." of a regular file's content, else ""
  std::uint64_t dev_major = 0, dev_minor = 0;
  std::map<std::string, std::string> xattrs;  ///< name -> raw value

  friend bool operator==(const TarEntryInfo&, const TarEntryInfo&) = default;
};

/// Streams the layer blob `read` hands out (compression detected from its bytes) and calls
/// `visit` for every entry in tar order. `name` is used in messages. The blob is hostile
/// (a pulled image's): it is read within `limits` (ApplyLimits: its uncompressed size, its
/// decompression ratio, its number of entries, the length of names and link targets, the
/// size of an entry's xattrs; docs/security.md 12), and its uncompressed bytes must hash to
/// `expected_diff_id` when one is given. Throws mkimg::Error ("read layer `name`: ...") for a
/// corrupt blob, a limit passed, or another diff_id.
void read_layer_entries(const BlobReader& read, std::string_view name,
                        const std::function<void(TarEntryInfo&&)>& visit,
                        const std::string& expected_diff_id = "", const ApplyLimits& limits = {});

}  // namespace mkimg::snapshot
