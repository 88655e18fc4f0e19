// What differs between two images: `mkimg diff` and `mkimg build --verify-reproducible`.
//
// An image is opened from the store (tag, id, manifest digest) or, in place, from an
// oci:DIR[:REF], oci-archive:FILE[:REF] or docker-archive:FILE[:REF] spec (oci/transport.h).
// The comparison has two parts:
//   config  every field of the image config that differs (config.Env, config.Cmd, ...,
//           created, architecture, os, history[i], rootfs.diff_ids[i]), as JSON values, and
//           the manifest's own fields (mediaType, annotations, layer blobs that hold the same
//           tar but are compressed differently);
//   layers  layers paired by index; for a pair whose diff_ids differ, both tars are streamed
//           (snapshot/layer_entries.h: libarchive, nothing unpacked, contents hashed, never
//           held) and every path added, removed or changed is listed with what changed: type,
//           mode, uid, gid, size, content digest, mtime, link target, device, xattrs. Memory
//           is the metadata of one layer's entries.
// Two images are identical when nothing at all differs (then their manifest digests match).
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "oci/descriptor.h"
#include "oci/image.h"
#include "snapshot/layer_entries.h"

namespace mkimg::oci {
class Store;
class BlobStream;
}  // namespace mkimg::oci

namespace mkimg::snapshot {

/// One image to compare: where it is, its manifest and config, and its layers' bytes.
class DiffImage {
 public:
  virtual ~DiffImage() = default;
  std::string name;  ///< as the user wrote it
  oci::Descriptor manifest_descriptor;
  oci::Manifest manifest;
  oci::ImageConfig config;
  /// A stream of the layer blob `layer` (one of manifest.layers).
  virtual std::unique_ptr<oci::BlobStream> open_layer(const oci::Descriptor& layer) = 0;
};

/// Opens `spec`: an oci:, oci-archive: or docker-archive: spec in place, else an image of
/// `store` (tag, id or digest). Throws mkimg::Error when it cannot be found or read.
std::unique_ptr<DiffImage> open_diff_image(const oci::Store& store, std::string_view spec);

/// One field whose value differs: `before` and `after` are JSON texts ("" when absent).
struct FieldChange {
  std::string field;
  std::string before, after;
  friend bool operator==(const FieldChange&, const FieldChange&) = default;
};

/// One path of a layer pair that differs.
struct FileChange {
  enum class Kind { kAdded, kRemoved, kChanged } kind = Kind::kChanged;
  std::string path;                 ///< "/etc/passwd"
  std::vector<FieldChange> fields;  ///< what changed (kChanged); empty otherwise
  std::optional<snapshot::TarEntryInfo> before, after;
};

/// One pair of layers (index `index`) that differs; a layer only one image has is listed with
/// the other side absent and no file list.
struct LayerDiff {
  std::size_t index = 0;
  std::optional<oci::Descriptor> before, after;
  std::optional<oci::Digest> before_diff_id, after_diff_id;
  std::vector<FileChange> files;
  /// The tars differ but no entry does (entry order, header fields mkimg does not compare).
  bool only_tar_bytes = false;
};

/// Everything that differs between two images.
struct ImageDiff {
  std::string before_name, after_name;
  oci::Digest before_manifest, after_manifest;
  std::vector<FieldChange> config;  ///< config and manifest fields
  std::size_t before_layers = 0, after_layers = 0;
  std::vector<LayerDiff> layers;
  /// Same manifest digest: then nothing else is compared or listed.
  bool identical() const { return before_manifest == after_manifest; }
};

/// Compares two images (see the header comment). Throws mkimg::Error on an unreadable layer.
ImageDiff diff_images(DiffImage& before, DiffImage& after);

/// Compares two layer blobs given by readers (the file part of diff_images()), each read within
/// the apply limits and checked against its diff_id when one is given (read_layer_entries).
std::vector<FileChange> diff_layers(const snapshot::BlobReader& before,
                                    std::string_view before_name, const snapshot::BlobReader& after,
                                    std::string_view after_name,
                                    const std::string& before_diff_id = "",
                                    const std::string& after_diff_id = "");

/// The changed fields of two entries of the same path (empty when they are the same).
std::vector<FieldChange> diff_entries(const snapshot::TarEntryInfo& before,
                                      const snapshot::TarEntryInfo& after);

/// Human-readable report, one line per difference; "" when identical.
std::string format_text(const ImageDiff& diff);
/// The same as one JSON document: {"identical", "before", "after", "config", "layers"}.
std::string format_json(const ImageDiff& diff);

}  // namespace mkimg::snapshot
